//! OpenAPI schemas of the enums that appear on the HTTP wire (feature `openapi`).
//!
//! Each schema is built from the enum's own list of values (`ALL` and `as_str`), the
//! same list its serde form and `FromStr` use, so the document cannot drift from the
//! code. The record types have no schema here: their wire shapes live in `zart-api`.

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;

/// A string schema accepting exactly `values`, described by `description`.
pub(crate) fn string_enum(
    description: &str,
    values: impl IntoIterator<Item = &'static str>,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .enum_values(Some(values))
        .description(Some(description.trim()))
        .into()
}

/// Implements `utoipa::ToSchema` for an enum with `ALL` and `as_str`: a schema named
/// after the type, listing every value.
macro_rules! string_enum_schema {
    ($name:ident, $description:expr) => {
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::openapi::string_enum($description, $name::ALL.iter().map(|v| v.as_str()))
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

pub(crate) use string_enum_schema;
