//! Secrets stay secret: passwords, signing secrets and webhook URLs read from files, systemd
//! credentials and the environment are used, and never appear in logs, errors, `alerts list` or
//! `config check`; a readable config file holding a secret draws a warning; URLs with
//! credentials are refused without being echoed.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::faults::{Daemon, KeyReceiver};
use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, article_page};

const SIGNING: &str = "sig-5ecret-from-a-file";
const SMTP_PASSWORD: &str = "smtp-pa55word-from-env";
const URL_TOKEN: &str = "T0KEN-in-the-path";

fn all_output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [SIGNING, SMTP_PASSWORD, URL_TOKEN] {
        assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
    }
}

#[test]
fn secrets_from_files_credentials_and_environment_are_used_and_never_shown() {
    let receiver = KeyReceiver::start(Duration::ZERO);
    let site = Site::start();
    let creds = tempfile::tempdir().unwrap();
    // systemd's LoadCredential=hook-secret:... puts the file in $CREDENTIALS_DIRECTORY.
    std::fs::write(creds.path().join("hook-secret"), format!("{SIGNING}\n")).unwrap();
    // The webhook URL carries a token in its path, as Slack's and Discord's do.
    let hook_url = format!("{}/{URL_TOKEN}", receiver.url());
    let config = "[schedule]\ndefault = \"every 1s\"\njitter = \"0s\"\n\
         [[alert]]\nname = \"hook\"\nkind = \"webhook\"\nurl_file = \"hook-url\"\nsecret_file = \"hook-secret\"\non = [\"captured\"]\n\
         [[alert]]\nname = \"mail\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = 9\nsmtp_tls = \"none\"\n\
         username = \"stet\"\npassword_env = \"STET_TEST_SMTP_PASSWORD\"\nfrom = \"stet@example.org\"\nto = [\"desk@example.org\"]\n\
         on = [\"captured\"]\nmax_attempts = 1\n";
    let stet = Stet::new("", config);
    std::fs::write(stet.dir.path().join("hook-url"), &hook_url).unwrap();
    let env = [
        ("STET_TEST_SMTP_PASSWORD", SMTP_PASSWORD),
        ("CREDENTIALS_DIRECTORY", creds.path().to_str().unwrap()),
        ("STET_LOG", "trace"),
    ];
    let run = |args: &[&str]| {
        let mut cmd = stet.command();
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };

    let check = run(&["config", "check", "--json"]);
    assert!(check.status.success(), "{}", all_output(&check));
    assert_no_secret("config check", &all_output(&check));

    let url = site.url("/secret-test");
    site.set("/secret-test", Route::html(article_page("Secrets", PARAS)));
    let watch = run(&["watch", "add", &url]);
    assert!(watch.status.success());
    let mut daemon = Daemon::start_with(&stet, &env);
    daemon.until(30, "the signed webhook", || !receiver.requests().is_empty());
    daemon.until(30, "the failed mail attempt", || {
        let out = run(&["alerts", "list", "--json"]);
        String::from_utf8_lossy(&out.stdout).contains("\"failed\"")
    });
    daemon.kill9();
    assert_no_secret("the daemon's trace log", &daemon.log());

    // The secret from the credential file signed the body.
    let (headers, body) = receiver.requests()[0].clone();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SIGNING.as_bytes()).unwrap();
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(headers.get("x-stet-signature"), Some(&expected));

    for args in [
        &["alerts", "list"][..],
        &["alerts", "list", "--json"],
        &["history", &url, "--json"],
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", all_output(&out));
        assert_no_secret(&format!("{args:?}"), &all_output(&out));
    }
    let list = String::from_utf8_lossy(&run(&["alerts", "list"]).stdout).into_owned();
    assert!(list.contains("hook (webhook) http://127.0.0.1:"), "{list}");

    // A missing secret file is an error naming the file, not the value.
    std::fs::remove_file(creds.path().join("hook-secret")).unwrap();
    let out = run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        all_output(&out).contains("hook-secret"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn a_readable_config_file_holding_a_secret_draws_a_warning() {
    let config = "[[alert]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/h\"\nsecret = \"inline-5ecret\"\n";
    let stet = Stet::new("", config);
    let path = stet.config_path();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = stet.run(&["config", "check"]);
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("can be read by other users (mode 644)"),
        "{text}"
    );
    assert!(!text.contains("inline-5ecret"), "{text}");
    // Every command warns, on stderr, not only `config check`.
    let out = stet.run(&["watch", "list"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("can be read by other users"));

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = all_output(&stet.run(&["config", "check"]));
    assert!(!text.contains("other users"), "{text}");
}

#[test]
fn urls_with_credentials_are_refused_and_never_echoed() {
    let stet = Stet::new("", "");
    let out = stet.run(&["watch", "add", "https://bob:hunter2pw@news.example/a"]);
    assert_eq!(out.status.code(), Some(2));
    let text = all_output(&out);
    assert!(text.contains("user name or password"), "{text}");
    assert!(!text.contains("hunter2pw"), "{text}");
    assert!(text.contains("***@news.example"), "{text}");

    std::fs::write(
        stet.config_path(),
        "[[watch]]\nurl = \"https://bob:hunter2pw@news.example/a\"\n",
    )
    .unwrap();
    let out = stet.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let text = all_output(&out);
    assert!(!text.contains("hunter2pw"), "{text}");
}
