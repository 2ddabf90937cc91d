//! zart-sqlite (under construction).
