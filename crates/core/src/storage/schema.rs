//! diesel table definitions (shared by both backends).
