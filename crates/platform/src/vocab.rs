//! Fixed vocabularies stored as snake_case text: one macro so every crate's enums parse, print
//! and serialise the same way.

/// Declares an enum of text values: `as_str`, `parse`, `ALL`, serde and OpenAPI in snake_case.
/// The calling crate needs `serde` and `utoipa`.
#[macro_export]
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }

        /// Reading a form field (what [`parse`](Self::parse) reads).
        impl ::std::str::FromStr for $name {
            type Err = $crate::vocab::UnknownWord;

            fn from_str(text: &str) -> ::std::result::Result<$name, $crate::vocab::UnknownWord> {
                $name::try_from(text.to_owned())
            }
        }

        /// Reading a stored value: a row struct's field of this type decodes its text column
        /// with `#[diesel(deserialize_as = String)]`, so a stored word is parsed once, where
        /// the row is read, and a word no version wrote fails the query instead of a caller.
        impl ::std::convert::TryFrom<String> for $name {
            type Error = $crate::vocab::UnknownWord;

            fn try_from(text: String) -> ::std::result::Result<$name, $crate::vocab::UnknownWord> {
                $name::parse(&text).ok_or($crate::vocab::UnknownWord {
                    vocabulary: stringify!($name),
                    text,
                })
            }
        }
    };
}

/// A stored word that is not in its vocabulary: the database holds what no version wrote.
#[derive(Debug)]
pub struct UnknownWord {
    pub vocabulary: &'static str,
    pub text: String,
}

impl std::fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is no {}", self.text, self.vocabulary)
    }
}

impl std::error::Error for UnknownWord {}

#[cfg(test)]
mod tests {
    crate::vocabulary! {
        /// A test vocabulary.
        Colour {
            /// The first.
            DeepRed = "deep_red",
            Blue = "blue",
        }
    }

    #[test]
    fn text_round_trips_and_matches_serde() {
        for colour in Colour::ALL {
            assert_eq!(Colour::parse(colour.as_str()), Some(*colour));
            assert_eq!(serde_json::to_value(colour).unwrap(), colour.as_str());
        }
        assert_eq!(Colour::parse("green"), None);
    }

    #[test]
    fn a_stored_word_decodes_or_names_what_it_is_not() {
        assert_eq!(Colour::try_from("blue".to_owned()).unwrap(), Colour::Blue);
        let unknown = Colour::try_from("green".to_owned()).unwrap_err();
        assert_eq!(unknown.to_string(), "\"green\" is no Colour");
    }
}
