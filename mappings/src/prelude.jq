# transload mapping prelude: helpers available to every mapping program.
# See mappings/README.md for the list with examples.

# ---- X12 transaction-set trees ---------------------------------------------------------
# A set is {"segments": [...]}; a segment is {"tag": "N1", "elements": [...]}; a loop is
# {"loop": "0200", "segments": [...]}. The helpers work on a set, a loop, or an array of
# nodes, whether the loops are nested or the set is flat.

# The direct children of a set or loop (or the items of an array of nodes).
def x12_nodes:
  if type == "array" then .[]
  elif type == "object" and has("segments") then .segments[]
  else empty end;

# Every segment under ., in order, descending into loops.
def all_segs: x12_nodes | if has("loop") then all_segs else . end;

# Native (mappings/src/x12_natives.rs), because every X12 mapping calls them dozens of
# times per set:
# - `segs(t)`: segments with tag `t` under ., descending into loops;
# - `seg(t)`: the first of them, or null;
# - `own_segs(t)`: segments with tag `t` directly in . (not inside its child loops);
# - `own_seg(t)`: the first of them, or null;
# - `loops(id)`: the loops with id `id` under . (outermost matches; a matched loop is
#   not searched);
# - `own_loops(id)`: the child loops of . with id `id` (one level only);
# - `el(n)`: element `n` (1-based) of a segment: a string, an array for a composite, or
#   null when absent or empty (null for a null segment);
# - `el(n; c)`: component `c` (1-based) of composite element `n` (a simple element is its
#   component 1).

# Element `n` of the first segment `t` under ., or null.
def val(t; n): seg(t) | el(n);

# The segments whose element 1 (a qualifier) is `q`.
def qualified(q): select(el(1) == q);

# A segment from a tag and a list of elements; trailing nulls/empties are dropped and
# inner nulls become "".
def mkseg(t; elems):
  {tag: t, elements: ([elems[] | if . == null then "" elif type == "number" then tostring else . end]
    | until(length == 0 or .[-1] != ""; .[:-1]))};

# ---- dates and times ---------------------------------------------------------------------

# Native (mappings/src/x12_natives.rs):
# - `x12_date`: "20261125" or "261125" -> "2026-11-25" (two-digit years are 20xx); null
#   stays null;
# - `x12_time`: "1342", "134210" or "13421050" -> "13:42:00" / "13:42:10" (decimal
#   seconds dropped); null is "00:00:00";
# - `x12_local(d; t)`: X12 date + time -> local date-time "2026-11-25T13:42:00".

# "2026-11-25" -> "20261125"
def to_x12_date: if . == null then null else .[0:10] | gsub("-"; "") end;
# "2026-11-25T13:42:00" -> "1342"
def to_x12_time: if . == null then null else .[11:16] | gsub(":"; "") end;

# `x12_time_code_zone` (X12 time codes of AT707, G6204... -> a zone; null for local time
# or unknown codes) and `region_zone` (the usual zone of a US state or Canadian province,
# the zone of most of its area: a heuristic for a stop's location when the message gives
# no zone) are native lookups; see mappings/src/lookup.rs for the tables.

# `zoned(local; zone; source)` is native: a canonical ZonedTime from a local date-time, a
# zone (IANA name or offset, or null) and how the zone was chosen ("explicit",
# "stop_location", "partner_default", "hub_default"). A null zone gives an unresolved
# time. `zone_utc` is native (jiff): local time in a zone -> UTC instant; an ambiguous
# time takes the earlier instant, a gap the later.

# `zone_local(zone)` is native too: an instant (RFC 3339) -> the local date-time in a zone.

# `rfc3339_parts` is native: "2026-11-25T07:31:00-06:00" -> {"local": "2026-11-25T07:31:00",
# "zone": "-06:00"} ("Z" gives "+00:00", fractional seconds are dropped); an error for
# anything else.

# `zoned_first(local; pairs)` is native: the first non-null zone of a list of
# [zone, source] pairs, as a ZonedTime of `local` (unresolved when every zone is null).

# ---- code maps and small helpers ---------------------------------------------------------

# Looks `.` up in the partner's code map `name` ($partner.code_maps[name]); null when
# absent.
def code_map(name): . as $code | ($partner.code_maps[name] // {})[$code // ""] // null;

# Like code_map, with a default for unmapped codes.
def code_map(name; default): code_map(name) // default;

# Looks `.` up in code map `name`; the code itself when unmapped.
def mapped(name): code_map(name) // .;

# The reverse lookup: the first partner code that maps to `.`.
def code_unmap(name): . as $v | first(($partner.code_maps[name] // {}) | to_entries[] | select(.value == $v) | .key) // null;

# `country2` is native: ISO 3166 alpha-3 (as some X12 senders write it) to alpha-2 for
# North America; other values pass unchanged.

# Whether `.` equals one of the items of the array `xs` (jq's IN, by another name).
def in_list(xs): . as $v | any(xs[]; . == $v);

# `compact` is native: drops keys whose value is null, an empty array or an empty object
# (one level).

# Trims spaces; null stays null.
def trim_or_null: if . == null then null else trim | if . == "" then null else . end end;

# A decimal number as an exact string: "14.60" stays, 1460 -> "1460", null -> null.
def decimal: if . == null then null elif type == "number" then tostring else . end;

# X12 implied-decimal amounts (N2): "136049" -> "1360.49".
def strip_zeros: sub("^0+"; "") | if . == "" then "0" else . end;

def n2: if . == null then null
  else (if startswith("-") then "-" else "" end) as $sign | ltrimstr("-")
    | (if length < 3 then ("000" + .)[-3:] else . end) as $d
    | $sign + ($d[:-2] | strip_zeros) + "." + $d[-2:] end;

# "1360.49" -> "136049" (N2 for X12 output).
def to_n2: if . == null then null
  else tostring | (if startswith("-") then "-" else "" end) as $sign | ltrimstr("-")
    | split(".") as $p
    | ($p[1] // "" | (. + "00")[0:2]) as $frac
    | $sign + (($p[0] + $frac) | strip_zeros) end;

# ---- XML documents (see README: {"name", "attrs", "children"}) ---------------------------

# Child elements named `n` (one level).
def xchildren(n): (.children // [])[] | select(type == "object" and .name == n);
# The first child element named `n`, or null.
def xchild(n): first(xchildren(n)) // null;
# The text of an element: its text children joined, trimmed; null when empty.
def xtext: if . == null then null else [(.children // [])[] | select(type == "string")] | join("") | trim_or_null end;
# The text of the first child element named `n`.
def xval(n): xchild(n) | xtext;
# Attribute `a`, or null.
def xattr(a): if . == null then null else (.attrs // {})[a] end;
# Elements at a slash-separated path of names below ("Stops/Stop").
def xpath(p): reduce (p | split("/"))[] as $n ([.]; [.[] | xchildren($n)]) | .[];
# An element from a name, attributes and children (strings or elements; nulls dropped).
def xelem(n; a; c): {name: n} + (if (a // {}) == {} then {} else {attrs: a} end)
  + {children: [c | select(. != null) | if type == "number" then tostring else . end]};
# An element holding one text value, or nothing when the value is null.
def xleaf(n; v): if v == null then empty else xelem(n; {}; v) end;
