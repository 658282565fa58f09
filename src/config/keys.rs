//! Every key `tern.toml` accepts, read off the deserialisation structs in
//! `file.rs` themselves: a serde `Deserializer` that, instead of parsing
//! text, answers each request of the derived code and notes what was asked
//! for (a struct's field names, a bool, an integer, a string, an array).
//! The configuration reference (docs/configuration.md), the shipped
//! `config/tern.toml` and the tern.toml(5) man page are checked against
//! this list, so a key added to the code cannot go undocumented.

use std::cell::RefCell;

use serde::de::value::{BorrowedStrDeserializer, Error, U64Deserializer};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// One key: its dotted path (`server.listen`, `resolver.stub_zone.name`;
/// the elements of an array of tables share the array's path) and its
/// TOML type (`bool`, `integer`, `string`, `table`, `array of strings`,
/// `array of tables`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub path: String,
    pub kind: String,
}

/// Every key of `tern.toml`, tables included, in the order the structs
/// declare them.
pub fn all() -> Vec<Key> {
    probe().0
}

/// Other spellings a key accepts (`resolver.qname_minimization`).
pub fn aliases() -> Vec<String> {
    probe().1
}

/// The keys, and the aliases found on the way. serde lists a field's
/// aliases among the struct's field names, and answering an alias after
/// its field is a duplicate: each such name is set aside and the probe
/// run again without it.
fn probe() -> (Vec<Key>, Vec<String>) {
    let mut skip: Vec<String> = Vec::new();
    loop {
        let state = State::default();
        let probe = Probe {
            path: String::new(),
            array: 0,
            state: &state,
            skip: &skip,
        };
        let result = super::file::FileConfig::deserialize(probe);
        let last = state.last.into_inner();
        match result {
            Err(e) if e.to_string().starts_with("duplicate field") && !skip.contains(&last) => {
                skip.push(last);
            }
            // Anything else cannot happen (the probe answers every
            // request); if it did, the keys seen so far are returned and
            // the checks that use them report the missing ones.
            _ => return (state.out.into_inner(), skip),
        }
    }
}

#[derive(Default)]
struct State {
    out: RefCell<Vec<Key>>,
    /// The path of the last field name handed out.
    last: RefCell<String>,
}

/// Names toml's `Spanned<T>` gives its private struct (serde_spanned).
const SPANNED: &str = "$__serde_spanned_private_Spanned";

struct Probe<'a> {
    path: String,
    /// How many arrays enclose the value being asked for.
    array: usize,
    state: &'a State,
    /// Field paths not to hand out (aliases).
    skip: &'a [String],
}

impl Probe<'_> {
    fn note(&self, kind: &str) {
        if self.path.is_empty() {
            return;
        }
        let plural = match kind {
            "bool" => "bools",
            "integer" => "integers",
            "string" => "strings",
            _ => "tables",
        };
        let kind = match self.array {
            0 => kind.to_string(),
            n => format!("{}{plural}", "array of ".repeat(n)),
        };
        let mut out = self.state.out.borrow_mut();
        if !out.iter().any(|k| k.path == self.path) {
            out.push(Key {
                path: self.path.clone(),
                kind,
            });
        }
    }

    fn child(&self, field: &str) -> Probe<'_> {
        let path = if self.path.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.path)
        };
        Probe {
            path,
            array: 0,
            state: self.state,
            skip: self.skip,
        }
    }
}

impl<'de, 'a> de::Deserializer<'de> for Probe<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.note("string");
        v.visit_unit()
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.note("bool");
        v.visit_bool(false)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.note("integer");
        v.visit_i64(0)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.note("integer");
        v.visit_u64(0)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.note("string");
        v.visit_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_seq(OneElement {
            probe: Some(Probe {
                path: self.path,
                array: self.array + 1,
                state: self.state,
                skip: self.skip,
            }),
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED {
            // start, end, then the value itself at this same path.
            return v.visit_map(Fields {
                fields,
                next: 0,
                probe: self,
                spanned: true,
            });
        }
        self.note("table");
        v.visit_map(Fields {
            fields,
            next: 0,
            probe: self,
            spanned: false,
        })
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u128 f32 f64 char bytes byte_buf unit
        unit_struct newtype_struct tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// A sequence of one element, probed with the array's path.
struct OneElement<'a> {
    probe: Option<Probe<'a>>,
}

impl<'de> SeqAccess<'de> for OneElement<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.probe.take() {
            Some(p) => seed.deserialize(p).map(Some),
            None => Ok(None),
        }
    }
}

/// A struct's fields, each probed at `path.field` (or, for `Spanned`, its
/// two offsets as zero and its value at the same path).
struct Fields<'a> {
    fields: &'static [&'static str],
    next: usize,
    probe: Probe<'a>,
    spanned: bool,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if !self.spanned {
            while let Some(field) = self.fields.get(self.next) {
                if !self.probe.skip.contains(&self.probe.child(field).path) {
                    break;
                }
                self.next += 1;
            }
        }
        let Some(field) = self.fields.get(self.next) else {
            return Ok(None);
        };
        if !self.spanned {
            *self.probe.state.last.borrow_mut() = self.probe.child(field).path;
        }
        seed.deserialize(BorrowedStrDeserializer::new(field))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let index = self.next;
        self.next += 1;
        if self.spanned {
            if index < 2 {
                return seed.deserialize(U64Deserializer::new(0));
            }
            return seed.deserialize(Probe {
                path: self.probe.path.clone(),
                array: self.probe.array,
                state: self.probe.state,
                skip: self.probe.skip,
            });
        }
        let field = self.fields.get(index).copied().unwrap_or_default();
        seed.deserialize(self.probe.child(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(keys: &[Key], path: &str) -> Option<String> {
        keys.iter().find(|k| k.path == path).map(|k| k.kind.clone())
    }

    #[test]
    fn probe_reads_types_and_nesting_off_the_structs() {
        let keys = all();
        assert_eq!(kind_of(&keys, "server").as_deref(), Some("table"));
        assert_eq!(
            kind_of(&keys, "server.listen").as_deref(),
            Some("array of strings")
        );
        assert_eq!(
            kind_of(&keys, "server.udp_sockets").as_deref(),
            Some("integer")
        );
        assert_eq!(
            kind_of(&keys, "server.answer_cookie").as_deref(),
            Some("bool")
        );
        assert_eq!(
            kind_of(&keys, "server.access_control").as_deref(),
            Some("array of tables")
        );
        assert_eq!(
            kind_of(&keys, "server.access_control.net").as_deref(),
            Some("string")
        );
        assert_eq!(
            kind_of(&keys, "resolver.stub_zone").as_deref(),
            Some("array of tables")
        );
        assert_eq!(
            kind_of(&keys, "resolver.local_zone.type").as_deref(),
            Some("string")
        );
        assert_eq!(kind_of(&keys, "rpz").as_deref(), Some("array of tables"));
        assert_eq!(
            kind_of(&keys, "rpz.tags").as_deref(),
            Some("array of strings")
        );
        assert_eq!(kind_of(&keys, "log.level").as_deref(), Some("string"));
        assert_eq!(kind_of(&keys, "server.no_such_key"), None);
        // An alias is not a key of its own.
        assert_eq!(
            kind_of(&keys, "resolver.qname_minimisation").as_deref(),
            Some("bool")
        );
        assert_eq!(kind_of(&keys, "resolver.qname_minimization"), None);
        assert_eq!(aliases(), ["resolver.qname_minimization"]);
        // No key twice.
        let mut paths: Vec<_> = keys.iter().map(|k| &k.path).collect();
        let n = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), n);
    }
}
