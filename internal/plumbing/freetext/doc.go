// Package freetext is the one rule for the free-text fields of Strife's
// API: memos, account owners, counterparties and new passwords. The
// gateway, the banks and the client all check with it, so a value one of
// them accepts is never refused by another.
//
// # The rule
//
// A free-text value is at most a field's byte limit of valid UTF-8 with no
// character that is not text:
//
//   - no control character (Unicode category Cc): the C0 controls U+0000 to
//     U+001F, which include NUL, tab, newline, carriage return and the ESC
//     that starts terminal escape sequences; DEL (U+007F); and the C1
//     controls U+0080 to U+009F, which include the one-rune CSI (U+009B)
//     some terminals obey like "ESC [";
//   - no format character (category Cf), save the zero-width joiner and
//     non-joiner (U+200D, U+200C), which emoji sequences and scripts such as
//     Persian need. Cf holds the bidirectional overrides and isolates
//     (U+202A-U+202E, U+2066-U+2069) that make a terminal or an editor show
//     text in another order than it is stored ("Trojan Source",
//     CVE-2021-42574), the marks U+200E, U+200F and U+061C, and invisible
//     characters (U+00AD, U+FEFF, the tag characters U+E0000-U+E007F) that
//     hide text from a reader while a program still sees it;
//   - no line or paragraph separator (U+2028, U+2029: categories Zl, Zp),
//     which break a line as a newline does.
//
// Tab is refused with the other controls: every free-text field is a
// single line, shown in table columns and log fields it would misalign.
// Unassigned code points and private-use characters are allowed: refusing
// them would make the answer depend on the Unicode version of whoever
// checks, and they cannot move the cursor or reorder text. Subdivision
// flags (England, Scotland, Wales) are the one emoji the rule refuses, for
// their tag characters.
//
// # Where it applies
//
// On input only: at the API edge of the gateway and of the banks, and in the
// client before a payment is queued. Records already in a log were accepted
// by the rule of their day and are replayed as they are, so an old data
// directory still opens and an old prepared payment still commits.
//
// A string field of a protobuf message is already valid UTF-8: the gRPC
// codec refuses invalid UTF-8 before any handler runs (INTERNAL, "string
// field contains invalid UTF-8"). Check tests it anyway, for callers in the
// same process and for the day a field becomes bytes.
package freetext
