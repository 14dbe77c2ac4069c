//! The configuration file: any text gets a configuration or an error that
//! names the problem, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teaminbox_store::config::Config;

fuzz_target!(|text: &str| {
    if let Ok(config) = Config::from_toml(text) {
        // What --check-config prints must load back to the same settings.
        let again = Config::from_toml(&config.to_toml()).expect("printed configuration loads");
        assert_eq!(again.to_toml(), config.to_toml());
    }
});
