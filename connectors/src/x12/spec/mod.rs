//! Transaction-set specs (data in `schemas/x12/`) and validation against them.
