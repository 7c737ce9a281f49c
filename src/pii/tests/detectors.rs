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
