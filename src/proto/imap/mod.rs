//! IMAP (placeholder).
