//! zart-api (under construction).
