//! Each detector: true positives, and near misses that must stay untouched.

use super::{mask, masked};

/// Asserts every `hit` is replaced by `[LABEL]` and every `miss` comes back unchanged.
fn check(label: &str, hits: &[&str], misses: &[&str]) {
    let r = mask();
    let placeholder = format!("[{label}]");
    for hit in hits {
        let text = format!("before {hit} after");
        let (out, counts) = masked(&r, &text);
        assert_eq!(
            out,
            format!("before {placeholder} after"),
            "should redact {hit:?}"
        );
        assert_eq!(
            counts.iter().map(|(_, n)| n).sum::<u64>(),
            1,
            "{hit:?}: {counts:?}"
        );
    }
    for miss in misses {
        let (out, counts) = masked(&r, miss);
        assert_eq!(&out, miss, "should leave {miss:?} alone");
        assert!(counts.is_empty(), "{miss:?}: {counts:?}");
    }
}

#[test]
fn email() {
    check(
        "EMAIL",
        &[
            "alice@example.com",
            "jane.doe+tag@mail.co.uk",
            "bob_smith@corp-mail.io",
            "12345+octo@users.noreply.github.com",
        ],
        &[
            "git@github.com:org/repo.git",
            "icon@2x.png and logo@3x.jpg",
            "npm i lodash@4.17.21 @types/node@20.1.0",
            "@Override public void run()",
            "user@localhost",
            "pkg@latest",
        ],
    );
}

#[test]
fn phone() {
    check(
        "PHONE",
        &[
            "(555) 123-4567",
            "555-123-4567",
            "555.123.4567",
            "+1 555 123 4567",
            "+44 20 7946 0958",
            "+14155552671",
            "+1-800-555-0199",
        ],
        &[
            "2024-01-15 10:30:00",
            "epoch 1700000000 pid 48213",
            "version 10.0.22631.2861",
            "sizes 128 256 1024",
            "2024-01-15T10:30:00+05:30",
            "uuid 123e4567-e89b-12d3-a456-426614174000",
            "555-123.4567",
            "x+14155552671",
        ],
    );
}

#[test]
fn ssn() {
    check(
        "SSN",
        &["123-45-6789", "078-05-1120"],
        &[
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "123-00-4567",
            "123-45-0000",
            "1123-45-6789",
            "2024-01-15",
            "123-45-67890",
        ],
    );
}

#[test]
fn credit_card() {
    check(
        "CREDIT_CARD",
        &[
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "4111111111111111",
            "378282246310005",
            "3782 822463 10005",
            "5555555555554444",
            "6011111111111117",
        ],
        &[
            "4111 1111 1111 1112",
            "1234567890123456",
            "1700000000123",
            "ts 1700000000123456789",
            "4111-1111 1111-1111",
            "id 4111111111111111x",
        ],
    );
}

#[test]
fn ip() {
    check(
        "IP",
        &[
            "192.168.1.20",
            "8.8.8.8",
            "10.0.0.1",
            "2001:db8::8a2e:370:7334",
            "fe80::1ff:fe23:4567:890a",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            "::ffff:192.0.2.128",
        ],
        &[
            "10.0.22631.2861",
            "v1.2.3.4",
            "1.2.3.4.5",
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.0",
            "::1",
            "std::vector<int> a::b x[1::2]",
            "12:30:45",
            "00:1a:2b:3c:4d:5e",
            "256.1.1.1",
            "01.02.03.04",
        ],
    );
}

#[test]
fn ip_with_port_and_prefix() {
    let (out, _) = masked(
        &mask(),
        "listening on 192.168.1.20:8080, net 10.1.0.0/16, [2001:db8::1]:443",
    );
    assert_eq!(out, "listening on [IP]:8080, net [IP]/16, [[IP]]:443");
}

/// What the corpus found, held per detector: fixes that must not regress.
#[test]
fn email_in_urls_and_code() {
    check(
        "EMAIL",
        &["ops@lunaroute.dev"],
        &[
            "upstream ssh://git@github.com/acme/api.git (push)",
            "attn = q@k.transpose(-2, -1)",
            "postgres://app@db.internal:5432/app",
        ],
    );
    let (out, _) = masked(&mask(), "<ops@lunaroute.dev> mailto:ops@lunaroute.dev.");
    assert_eq!(out, "<[EMAIL]> mailto:[EMAIL].");
}

#[test]
fn phone_trunk_prefix_and_plus_after_a_dash() {
    check(
        "PHONE",
        &["1-800-555-0199", "1 (800) 555-0199", "1.800.555.0199"],
        &["11-800-555-0199", "v1-800-555-0199", "1-800.555-0199"],
    );
    let (out, _) = masked(&mask(), "case[(415) 555-0198-+14155550198]");
    assert_eq!(out, "case[[PHONE]-[PHONE]]");
}

#[test]
fn ip_versions_are_not_addresses() {
    check(
        "IP",
        &["10.0.0.10", "192.168.0.1"],
        &[
            "[assembly: AssemblyVersion(\"1.0.0.0\")]",
            "Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0",
            "versions 1.2.3, 10.4.1.0",
            "Version: 6.1.7.1",
            "\"version\": \"1.4.2.1\"",
            "ProductVersion=4.8.4.1",
            "OID 1.3.6.1.4.1.311.21.8",
        ],
    );
}

#[test]
fn ip_after_slash_colon_and_dash() {
    let (out, _) = masked(
        &mask(),
        "Node: pool-3f2a1b9c-x7k9/10.128.0.5\ninet addr:192.168.1.20  Mask:255.255.255.0\n\
         range 10.0.0.1-10.0.0.9, tail ::ffff:192.0.2.128",
    );
    assert_eq!(
        out,
        "Node: pool-3f2a1b9c-x7k9/[IP]\ninet addr:[IP]  Mask:255.255.255.0\n\
         range [IP]-[IP], tail [IP]"
    );
}

#[test]
fn ipv6_with_a_bare_port() {
    // netstat: `addr:port` unbracketed. A port that cannot be a group (5 digits) is split off.
    let (out, _) = masked(&mask(), "tcp6 2a00:1450:4001:81c::200e:51514 ESTABLISHED");
    assert_eq!(out, "tcp6 [IP]:51514 ESTABLISHED");
    let (out, _) = masked(&mask(), "times 12:30:45 1:02:03 mac 00:1a:2b:3c:4d:5e:80");
    assert_eq!(out, "times 12:30:45 1:02:03 mac 00:1a:2b:3c:4d:5e:80");
}

/// The look-alike classes the issue names, against every detector at once.
#[test]
fn look_alike_classes_stay_untouched() {
    let r = mask();
    let classes: &[(&str, &[&str])] = &[
        (
            "dates and times",
            &[
                "2024-01-15 10:30:45,123",
                "15/01/2024 10:30:45.123456 +0530",
                "01/15/2024 10:30 AM",
                "Mon, 15 Jan 2024 10:30:45 GMT",
                "20240115T103045Z",
                "2021-W24-1 2021.06.14 3/7/2024, 8:02:14 AM",
                "uptime 12:30:45 up 3 days, 4:05 elapsed 00:01:02.345",
            ],
        ),
        (
            "ISO timestamps",
            &[
                "2024-01-15T10:30:45.123456789-08:00",
                "2024-02-29T23:59:59.999999+14:00",
                "2024-03-07T14:22:31.118Z",
            ],
        ),
        (
            "epoch seconds",
            &[
                "epoch 1705314645 millis 1705314645123",
                "micros 1705314645123456 nanos 1705314645123456789",
                "window 1705314645-1705318245",
            ],
        ),
        (
            "UUIDs",
            &[
                "550e8400-e29b-41d4-a716-446655440000",
                "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ],
        ),
        (
            "git SHAs",
            &[
                "commit 9f2c4e1a7b3d5f6e8a0c2b4d6f8e0a1c3e5b7d9f",
                "index 3f2a9c1..7e5b8a0 100644",
                "sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac",
            ],
        ),
        (
            "versions and builds",
            &[
                "v2.14.0-rc.1+build.20240305 1.0.0-0.3.7",
                "Microsoft Windows [Version 10.0.22631.2861]",
                "6.3.9600.20778 5.1.2600.5512 17763.5458",
                "torch==2.2.1+cu121 OpenJDK 21.0.2+13-58",
                "Chrome 122.0.6261.112 NVIDIA-SMI 545.23.08",
            ],
        ),
        (
            "host:port",
            &[
                "localhost:8080 db.internal:5432 redis:6379",
                "[::1]:9090 0.0.0.0:3000 127.0.0.1:5173 [::]:8081 :::5432",
            ],
        ),
        (
            "pids",
            &[
                "pid 48213 ppid 1 tid 48230",
                "48213/lunaroute-ser users:((\"lunaroute\",pid=48213,fd=9))",
            ],
        ),
        (
            "ids inside identifiers",
            &[
                "order_4111111111111111 user_5551234567 ticket_123_45_6789",
                "job-1705314645-42 INV-2024-000187 1Z999AA10123456784",
                "0x4111111111111111 ip-10-0-1-23.ec2.internal",
            ],
        ),
        (
            "base64 blobs",
            &[
                "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==",
                "U29tZSBsb25nIGJhc2U2NCBwYXlsb2FkIHdpdGggMTIzLTQ1LTY3ODkgYW5kIDQxMTEgMTExMQ==",
                "eyJhdXRocyI6eyJnaGNyLmlvIjp7ImF1dGgiOiJabTl2T21KaGNnPT0ifX19",
            ],
        ),
        (
            "JSON with ids",
            &[
                r#"{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","usage":{"input_tokens":2095}}"#,
                r#"{"user":{"id":4820113,"created_at":"2019-07-22T17:04:11Z"}}"#,
                r#"{"snowflake":"1765432109876543210","discord":"902345678901234567"}"#,
                r#"{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","ts":1709821351123}"#,
            ],
        ),
    ];
    for (class, texts) in classes {
        for text in *texts {
            let (out, counts) = masked(&r, text);
            assert_eq!(&out, text, "{class}: {counts:?}");
        }
    }
}

#[test]
fn secrets_each_kind() {
    let cases = [
        (
            "anthropic_key",
            "sk-ant-api03-OzzCOhHadIf3C4cF138TGo73RF5l34NTwHOk81oB-wvHZLgAA",
        ),
        (
            "openai_project_key",
            "sk-proj-ZbqvbN3O6i5HCxTRBAiZDN6mps3Nthz_lmH4OQCxWLOF313gw",
        ),
        (
            "openai_key",
            "sk-P2WyIuUFdBaKYqiJFruKDlr6tw3iOrM09epj5CuteYBoSe6t",
        ),
        ("aws_access_key", "AKIAIOSFODNN7EXAMPLE"),
        ("github_token", "ghp_O1it8NduN4p7t70PRCIZVSuFmroazKp5zXU4"),
        (
            "slack_token",
            "xoxb-252848775800-2984965505567-fBfq8LbLih7edrPCBg41EDN2",
        ),
        ("stripe_key", "sk_live_XM5gV0fL39hhOg7fQQ6Ligig"),
        ("google_api_key", "AIzaY5CZY9rndjSzMEqyLFYPrWWnXftRSb41xyN"),
        (
            "jwt",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV",
        ),
        (
            "private_key",
            "-----BEGIN RSA PRIVATE KEY-----\nYHWhA1qfR5n/W9dolaKhX\n-----END RSA PRIVATE KEY-----",
        ),
    ];
    for (kind, value) in cases {
        check(&format!("SECRET:{kind}"), &[value], &[]);
    }
}

#[test]
fn bearer_tokens_and_placeholders() {
    let r = mask();
    let (out, _) = masked(&r, "Authorization: Bearer 5T4ZxPetkrCNsVfRynW04n8pB17yHYvy");
    assert_eq!(out, "Authorization: Bearer [SECRET:bearer_token]");
    // A JWT sent as a bearer token is reported as a JWT.
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fw";
    let (out, counts) = masked(&r, &format!("Authorization: Bearer {jwt}"));
    assert_eq!(out, "Authorization: Bearer [SECRET:jwt]");
    assert_eq!(counts.get("secret:jwt"), 1);
    check(
        "SECRET",
        &[],
        &[
            "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX",
            "SLACK_BOT_TOKEN=xoxb-000000000000-0000000000000-XXXXXXXXXXXXXXXXXXXXXXXX",
            "ANTHROPIC_API_KEY=sk-ant-...",
            "Authorization: Bearer $API_TOKEN",
            "send `Authorization: Bearer YOUR_API_KEY_HERE` (bearer authentication)",
            "sk-learn-compatible transformer, task-runner, risk-assessment-2024-01-15",
            "AKIA is the prefix AWS uses for long-term keys",
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
        ],
    );
}

#[test]
fn aws_secret_keys_are_found_by_the_names_aws_tools_write_them_under() {
    let r = mask();
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    for (text, want) in [
        (
            format!("AWS_SECRET_ACCESS_KEY={secret}"),
            "AWS_SECRET_ACCESS_KEY=[SECRET:aws_secret_key]",
        ),
        (
            format!("aws_secret_access_key = {secret}\n"),
            "aws_secret_access_key = [SECRET:aws_secret_key]\n",
        ),
        (
            format!(r#"    "SecretAccessKey": "{secret}","#),
            r#"    "SecretAccessKey": "[SECRET:aws_secret_key]","#,
        ),
        (
            format!("export AWS_SECRET_KEY='{secret}'"),
            "export AWS_SECRET_KEY='[SECRET:aws_secret_key]'",
        ),
    ] {
        let (out, counts) = masked(&r, &text);
        assert_eq!(out, want);
        assert_eq!(counts.get("secret:aws_secret_key"), 1, "{text}");
    }
    // 40 base64 characters without the name are anything (a hash, a blob); a longer value under
    // the name is not a key of this shape; a placeholder is not a key.
    for text in [
        format!("checksum {secret}"),
        format!("AWS_SECRET_ACCESS_KEY={secret}/extra"),
        format!("AWS_SECRET_ACCESS_KEY={secret}Z"),
        "AWS_SECRET_ACCESS_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".to_string(),
        "AWS_SECRET_ACCESS_KEY=your-secret-access-key".to_string(),
    ] {
        assert_eq!(masked(&r, &text).0, text);
    }
}

/// Text that shows escaped JSON (a logged JSON line in a tool result) has `\n`, `\t`, `\r` written
/// out: the letter of the escape ends a line, it does not glue the value to a longer word. And a
/// key with a distinctive prefix is a key even glued to a word (`apikeysk-ant-…`, `KEY_ghp_…`).
#[test]
fn values_after_an_escape_written_out_or_glued_to_a_word_are_found() {
    let r = mask();
    let anthropic = "sk-ant-api03-OzzCOhHadIf3C4cF138TGo73RF5l34NTwHOk81oB-wvHZLgAA";
    let github = "ghp_O1it8NduN4p7t70PRCIZVSuFmroazKp5zXU4";
    let openai = "sk-P2WyIuUFdBaKYqiJFruKDlr6tw3iOrM09epj5CuteYBoSe6t";
    let cases = [
        (
            format!(r#"{{"msg":"loaded config\n{anthropic}\n"}}"#),
            r#"{"msg":"loaded config\n[SECRET:anthropic_key]\n"}"#.to_string(),
        ),
        (
            format!(r#"{{"msg":"key\t{openai}"}}"#),
            r#"{"msg":"key\t[SECRET:openai_key]"}"#.to_string(),
        ),
        (
            format!("apikey{anthropic} and ANTHROPIC_KEY_{github}"),
            "apikey[SECRET:anthropic_key] and ANTHROPIC_KEY_[SECRET:github_token]".to_string(),
        ),
        (
            r#"{"log":"user\nalice@example.com\ncalled\n+1 415 555 0198\nfrom\n203.0.113.9"}"#
                .to_string(),
            r#"{"log":"user\n[EMAIL]\ncalled\n[PHONE]\nfrom\n[IP]"}"#.to_string(),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(masked(&r, &text).0, want);
    }
    // The short prefixes still need a boundary: `task-…` and `XAKIA…` are names.
    for text in [
        "task-P2WyIuUFdBaKYqiJFruKDlr6tw3iOrM09epj5CuteYBoSe6t",
        "XAKIAIOSFODNN7EXAMPLE",
    ] {
        assert_eq!(masked(&r, text).0, text);
    }
}
