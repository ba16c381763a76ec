use super::*;

#[test]
fn parse_milli_cases() {
    let cases: &[(&str, i128)] = &[
        ("250m", 250),
        ("1", 1000),
        ("1.5", 1500),
        ("0.1", 100),
        (".5", 500),
        ("1.", 1000),
        ("1k", 1_000_000),
        ("1Ki", 1_024_000),
        ("64Mi", 67_108_864_000),
        ("1e3", 1_000_000),
        ("1E3", 1_000_000),
        ("5e-3", 5),
        ("0.0001", 1),
        ("1u", 1),
        ("100n", 1),
        ("-1", -1000),
        ("+2", 2000),
        ("0", 0),
        ("000", 0),
        ("1E", 1_000_000_000_000_000_000_000),
        ("Gi", 0),
        ("-", 0),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_milli(text).ok(), Some(*expected), "quantity {text:?}");
    }
}

#[test]
fn parse_rejects_bad_format() {
    for text in [
        "", "abc", "1.5.5", "1 Gi", "1Gi ", "0x10", "1,5", "1KI", "1kb",
    ] {
        let error = Quantity::parse(text).expect_err(text);
        assert_eq!(error.to_string(), FORMAT_MESSAGE, "quantity {text:?}");
    }
}

#[test]
fn parse_rejects_bad_suffix() {
    for text in ["1e", "1Mi5", "1mi", "1ii", "1Kii"] {
        let error = Quantity::parse(text).expect_err(text);
        assert_eq!(error.to_string(), SUFFIX_MESSAGE, "quantity {text:?}");
    }
}

#[test]
fn cpu_and_memory_helpers() {
    assert_eq!(cpu_millicores("100m").ok(), Some(100));
    assert_eq!(cpu_millicores("2").ok(), Some(2000));
    assert_eq!(memory_bytes("128Mi").ok(), Some(134_217_728));
    assert_eq!(memory_bytes("1G").ok(), Some(1_000_000_000));
    assert_eq!(memory_bytes("1.5Ki").ok(), Some(1536));
    assert_eq!(memory_bytes("100m").ok(), Some(1));
}

#[test]
fn canonical_forms() {
    let cases = [
        ("1.5", "1500m"),
        ("1.5Gi", "1536Mi"),
        ("1Gi", "1Gi"),
        ("1024", "1024"),
        ("1000", "1k"),
        ("512Ki", "512Ki"),
        ("0.5Ki", "512"),
        ("1e3", "1e3"),
        ("1.5e3", "1500"),
        ("100m", "100m"),
        ("0", "0"),
        ("-1.5", "-1500m"),
        ("1n", "1n"),
    ];
    for (text, expected) in cases {
        let quantity = Quantity::parse(text).expect(text);
        assert_eq!(quantity.to_string(), expected, "quantity {text:?}");
    }
}

#[test]
fn quantities_compare_by_value() {
    let small = Quantity::parse("1Gi").expect("1Gi");
    let large = Quantity::parse("1.1G").expect("1.1G");
    assert!(small < large);
}
