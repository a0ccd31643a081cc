//! `parse_post_receive_line` on every line of any stdin: `None` is fine, a panic is a bug, and
//! what it accepts must be what git writes (`<old> <new> <ref>`, object ids of one hash length).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    for line in input.split(|&b| b == b'\n') {
        if let Some((old, new, refname)) = git_repo_sync::hooks::parse_post_receive_line(line) {
            for oid in [old, new] {
                assert!(
                    matches!(oid.len(), 40 | 64) && oid.bytes().all(|b| b.is_ascii_hexdigit()),
                    "accepted {oid:?} as an object id"
                );
            }
            assert!(refname.starts_with("refs/"), "accepted {refname:?} as a ref name");
            assert!(
                !refname.contains(char::is_whitespace),
                "accepted {refname:?} with whitespace"
            );
        }
    }
});
