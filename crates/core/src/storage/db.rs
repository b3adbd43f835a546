//! diesel + r2d2 implementation of the storage traits for SQLite and Postgres.
