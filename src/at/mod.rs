//! The AT engine: command writer, tokenizer, response parsers and URC
//! dispatcher. It knows nothing about FTP sessions; the client sequences it.

pub mod cmd;
pub mod parse;
pub mod tokenizer;
pub mod urc;
