//! `parse_post_receive_line` on every line of any stdin (split on `\n` as the hook reads it).
//! `None` is fine and a panic is a bug; what it accepts must be what git writes,
//! `<old> <new> <ref>`: two object ids of one hash length (SHA-1 or SHA-256, hex), a ref under
//! `refs/` without whitespace, and nothing else on the line but trailing `\r`s.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    for line in input.split(|&b| b == b'\n') {
        let Some((old, new, refname)) = git_repo_sync::parse_post_receive_line(line) else {
            continue;
        };
        for oid in [old, new] {
            assert!(
                matches!(oid.len(), 40 | 64) && oid.bytes().all(|b| b.is_ascii_hexdigit()),
                "accepted {oid:?} as an object id"
            );
        }
        assert_eq!(old.len(), new.len(), "accepted object ids of two hash lengths");
        assert!(refname.starts_with("refs/"), "accepted {refname:?} as a ref name");
        assert!(
            !refname.contains(char::is_whitespace),
            "accepted {refname:?} with whitespace"
        );
        // The three parts are the whole line: nothing dropped, nothing made up.
        let whole = format!("{old} {new} {refname}");
        let kept = line.len() - line.iter().rev().take_while(|&&b| b == b'\r').count();
        let line = &line[..kept];
        assert_eq!(whole.as_bytes(), line, "the parts do not make up the line");
    }
});
