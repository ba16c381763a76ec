//! `$(VAR)` expansion in env values, command and args, as Kubernetes does
//! it: defined names are replaced, unknown ones stay as written, and `$$`
//! escapes a dollar.

/// Expands `$(NAME)` references in `input` with `lookup`.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || i + 1 >= bytes.len() {
            let ch = input[i..].chars().next().unwrap_or('$');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        match bytes[i + 1] {
            b'$' => {
                out.push('$');
                i += 2;
            }
            b'(' => match input[i + 2..].find(')') {
                Some(end) => {
                    let name = &input[i + 2..i + 2 + end];
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    i += end + 3;
                }
                None => {
                    out.push_str(&input[i..]);
                    i = bytes.len();
                }
            },
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(name: &str) -> Option<String> {
        match name {
            "A" => Some("1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_like_kubernetes() {
        assert_eq!(expand("x$(A)y", &look), "x1y");
        assert_eq!(expand("$(B)", &look), "$(B)");
        assert_eq!(expand("$$(A)", &look), "$(A)");
        assert_eq!(expand("$(EMPTY)-", &look), "-");
        assert_eq!(expand("cost $5", &look), "cost $5");
        assert_eq!(expand("open $(A", &look), "open $(A");
        assert_eq!(expand("é$(A)", &look), "é1");
    }
}
