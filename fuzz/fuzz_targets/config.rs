//! `Config::parse` on any UTF-8 text: an error is fine, a panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(config) = git_repo_sync::config::Config::parse(text) {
        // Whatever parses must be something `save` can write and `parse` reads back the same.
        let saved = toml::to_string_pretty(&config).expect("a parsed config serialises");
        let again = git_repo_sync::config::Config::parse(&saved)
            .unwrap_or_else(|err| panic!("a parsed config does not parse after saving: {err:#}\n{saved}"));
        assert_eq!(again, config, "saving and parsing again changed the config:\n{saved}");
    }
});
