//! A list position carried in a page's links: the key and id of the row a page ends at.

use base64::Engine as _;
use roster_domain::user::{Cursor, UserId};

/// A list position as text for a link.
pub fn encode_cursor(c: &Cursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}\u{0}{}", c.id, c.key))
}

/// A list position read back from a link.
pub fn decode_cursor(text: &str) -> Option<Cursor> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (id, key) = text.split_once('\u{0}')?;
    Some(Cursor { key: key.to_string(), id: id.parse::<UserId>().ok()? })
}
