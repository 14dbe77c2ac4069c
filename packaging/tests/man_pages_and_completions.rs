//! The generated man pages and the hand-written teaminbox.toml(5) render
//! with `man` without a warning; the completions complete for real in bash
//! and parse in zsh; teaminbox.toml(5) names every configuration key.

use std::path::{Path, PathBuf};
use std::process::Command;

fn generated() -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_teaminbox-gen-docs"))
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    out
}

/// The hand-written page.
fn config_page() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("teaminbox.toml.5")
}

/// `man -l` of `page` as a reader sees it (80 columns); panics on any
/// warning groff or man prints.
fn render(page: &Path) -> String {
    let out = Command::new("man")
        .args(["--warnings", "-E", "UTF-8", "-l"])
        .arg(page)
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("man (Debian's man-db; tests/run installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "{}: {stderr}",
        page.display()
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_man_page_renders_without_warnings() {
    let out = generated();
    let mut pages: Vec<PathBuf> = std::fs::read_dir(out.path().join("man"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    let names: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "teaminbox-milter.8",
        "teaminbox-admin.1",
        "teaminbox-admin-doctor.1",
        "teaminbox-admin-channel-create.1",
        "teaminbox-admin-domain-verify.1",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    pages.push(config_page());
    for page in &pages {
        let text = render(page);
        assert!(text.contains("NAME"), "{}:\n{text}", page.display());
    }

    let daemon = render(&out.path().join("man/teaminbox-milter.8"));
    assert!(daemon.starts_with("teaminbox-milter(8)"), "{daemon}");
    assert!(daemon.contains("--check-config"), "{daemon}");
    assert!(daemon.contains("/run/teaminbox/milter.sock"), "{daemon}");
    let doctor = render(&out.path().join("man/teaminbox-admin-doctor.1"));
    assert!(doctor.contains("--postconf <COMMAND>"), "{doctor}");
    assert!(doctor.contains("milter_default_action"), "{doctor}");
}

#[test]
fn bash_completes_the_admin_commands() {
    let out = generated();
    let script = out.path().join("completions/teaminbox-admin.bash");
    // What bash-completion does on `teaminbox-admin do<TAB>`, then on
    // `teaminbox-admin doctor --post<TAB>`.
    let complete = |words: &str, cword: usize| {
        let probe = format!(
            "source '{}'\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE='{words}'\nCOMP_POINT=${{#COMP_LINE}}\n\
             f=$(complete -p teaminbox-admin | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')\n\
             \"$f\" teaminbox-admin \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let run = Command::new("bash").args(["-c", &probe]).output().unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        String::from_utf8(run.stdout).unwrap()
    };
    let first = complete("teaminbox-admin do", 1);
    assert_eq!(
        first.split_whitespace().collect::<Vec<_>>(),
        ["domain", "doctor"],
        "{first}"
    );
    let options = complete("teaminbox-admin doctor --post", 2);
    assert_eq!(
        options.split_whitespace().collect::<Vec<_>>(),
        ["--postconf", "--postmap", "--postfix-config"],
        "{options}"
    );
    let daemon = out.path().join("completions/teaminbox-milter.bash");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&daemon)
        .status()
        .unwrap();
    assert!(syntax.success());
}

#[test]
fn zsh_completions_parse() {
    let out = generated();
    for name in ["_teaminbox-admin", "_teaminbox-milter"] {
        let file = out.path().join("completions").join(name);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with(&format!("#compdef {}", &name[1..])),
            "{text}"
        );
        let run = Command::new("zsh")
            .arg("-n")
            .arg(&file)
            .output()
            .expect("zsh (tests/run installs it)");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

#[test]
fn the_config_page_names_every_key() {
    let page = std::fs::read_to_string(config_page()).unwrap();
    let effective = teaminbox_store::config::Config::from_toml("")
        .unwrap()
        .to_toml();
    let table: toml::Table = effective.parse().unwrap();
    for (section, keys) in &table {
        assert!(
            page.contains(&format!(".SH \"[{section}]\"")),
            "[{section}] missing"
        );
        for key in keys.as_table().unwrap().keys() {
            assert!(
                page.contains(&format!("\n.B {key}\n")),
                "[{section}] {key} missing"
            );
        }
    }
}
