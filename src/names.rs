//! Ancestors of domain names, made cheaply. hickory's `Name::base_name`
//! and `Name::trim_to` rebuild the name from scratch through temporary
//! vectors (a thousand instructions and several allocations for a short
//! name); the engine and the caches walk a name's ancestors on every
//! cache read, so they use these instead. The results are the same names
//! (fully qualified, as hickory's are).

use hickory_proto::rr::Name;

/// `name` cut to its last `num_labels` labels (the whole name when it has
/// no more), as `Name::trim_to`.
pub fn trim(name: &Name, num_labels: usize) -> Name {
    // Every label (`num_labels` leaves out a leading `*`).
    let total = name.iter().len();
    if num_labels > total {
        return name.clone();
    }
    let mut out = Name::root();
    for label in name.iter().skip(total - num_labels) {
        out = match out.append_label(label) {
            Ok(n) => n,
            // Labels of a valid name always fit; should one not, the
            // slow path gives the same answer.
            Err(_) => return name.trim_to(num_labels),
        };
    }
    out
}

/// The name one label up (the root's is the root), as `Name::base_name`.
pub fn parent(name: &Name) -> Name {
    match name.iter().len() {
        0 => name.clone(),
        n => trim(name, n - 1),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn trim_and_parent_agree_with_hickory() {
        for s in [
            ".",
            "com.",
            "Example.COM.",
            "a.b.c.d.e.f.g.h.example.net.",
            "*.wild.test.",
            "www.example",
            &format!("{}.example.", vec!["x".repeat(60); 3].join(".")),
        ] {
            let name = n(s);
            let mine = parent(&name);
            let theirs = name.base_name();
            assert_eq!(mine, theirs, "{s}");
            assert_eq!(mine.to_ascii(), theirs.to_ascii(), "{s}");
            assert_eq!(mine.is_fqdn(), theirs.is_fqdn(), "{s}");
            for k in 0..=name.iter().len() + 1 {
                let (mine, theirs) = (trim(&name, k), name.trim_to(k));
                assert_eq!(mine.to_ascii(), theirs.to_ascii(), "{s} {k}");
                assert_eq!(mine.is_fqdn(), theirs.is_fqdn(), "{s} {k}");
            }
        }
    }
}
