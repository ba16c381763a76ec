//! Tokens of the label selector grammar, split as Kubernetes' lexer does:
//! identifiers run until whitespace or one of `=!(),<>`.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Token {
    Error,
    EndOfString,
    ClosedParenthesis,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenParenthesis,
}

/// One token with the text it was read from.
#[derive(Clone, Debug)]
pub(super) struct Item {
    pub token: Token,
    pub literal: String,
}

fn keyword(text: &str) -> Option<Token> {
    Some(match text {
        ")" => Token::ClosedParenthesis,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenParenthesis,
        _ => return None,
    })
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(byte: u8) -> bool {
    matches!(byte, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits `selector` into tokens, ending with `EndOfString`.
pub(super) fn tokenize(selector: &str) -> Vec<Item> {
    let bytes = selector.as_bytes();
    let mut position = 0;
    let mut items = Vec::new();
    loop {
        while position < bytes.len() && is_whitespace(bytes[position]) {
            position += 1;
        }
        if position >= bytes.len() {
            items.push(Item {
                token: Token::EndOfString,
                literal: String::new(),
            });
            return items;
        }
        let item = if is_special(bytes[position]) {
            scan_special(bytes, &mut position)
        } else {
            scan_identifier(selector, &mut position)
        };
        items.push(item);
    }
}

fn scan_identifier(selector: &str, position: &mut usize) -> Item {
    let bytes = selector.as_bytes();
    let start = *position;
    while *position < bytes.len()
        && !is_special(bytes[*position])
        && !is_whitespace(bytes[*position])
    {
        *position += 1;
    }
    let literal = String::from_utf8_lossy(&bytes[start..*position]).into_owned();
    let token = keyword(&literal).unwrap_or(Token::Identifier);
    Item { token, literal }
}

/// Reads the longest operator made of special characters (`!=` before `!`).
fn scan_special(bytes: &[u8], position: &mut usize) -> Item {
    let mut buffer = String::new();
    let mut last: Option<Item> = None;
    while *position < bytes.len() && is_special(bytes[*position]) {
        buffer.push(char::from(bytes[*position]));
        *position += 1;
        if let Some(token) = keyword(&buffer) {
            last = Some(Item {
                token,
                literal: buffer.clone(),
            });
        } else if last.is_some() {
            *position -= 1;
            break;
        }
    }
    last.unwrap_or(Item {
        token: Token::Error,
        literal: format!("error expected: keyword found '{buffer}'"),
    })
}
