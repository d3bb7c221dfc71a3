//! The XML reader of the mapping engine on arbitrary bytes: no panic; whatever it accepts
//! is an element in the rendering convention that writes back to XML and reads back to
//! the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use transload_mappings::xml::{json_to_xml, xml_to_json};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = xml_to_json(data) {
        assert!(value.get("name").is_some());
        let written = json_to_xml(&value).expect("an element read writes back");
        let again = xml_to_json(written.as_bytes()).expect("what was written reads back");
        assert_eq!(again, value);
    }
});
