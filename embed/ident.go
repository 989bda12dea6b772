package embed

import (
	"fmt"
	"path/filepath"
	"strings"
)

// cKeywords are the reserved words of C99 and C11 (plus the C23 additions
// that compilers already reserve): an array cannot be named after one.
var cKeywords = map[string]bool{
	"auto": true, "break": true, "case": true, "char": true, "const": true,
	"continue": true, "default": true, "do": true, "double": true, "else": true,
	"enum": true, "extern": true, "float": true, "for": true, "goto": true,
	"if": true, "inline": true, "int": true, "long": true, "register": true,
	"restrict": true, "return": true, "short": true, "signed": true,
	"sizeof": true, "static": true, "struct": true, "switch": true,
	"typedef": true, "union": true, "unsigned": true, "void": true,
	"volatile": true, "while": true, "_Alignas": true, "_Alignof": true,
	"_Atomic": true, "_Bool": true, "_Complex": true, "_Generic": true,
	"_Imaginary": true, "_Noreturn": true, "_Static_assert": true,
	"_Thread_local": true, "bool": true, "true": true, "false": true,
	"alignas": true, "alignof": true, "nullptr": true, "static_assert": true,
	"thread_local": true, "typeof": true, "constexpr": true,
}

// ValidIdent reports whether name can be the C identifier of the array.
func ValidIdent(name string) error {
	if name == "" {
		return fmt.Errorf("empty C identifier")
	}
	for i, r := range name {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("%q is not a C identifier (letters, digits and _, not starting with a digit)", name)
		}
	}
	if cKeywords[name] {
		return fmt.Errorf("%q is a C keyword", name)
	}
	return nil
}

// DefaultName derives an identifier from a file name: "certs/ca.crt"
// becomes "ca_crt", "1-root.pem" becomes "cert_1_root_pem".
func DefaultName(path string) string {
	base := filepath.Base(path)
	var sb strings.Builder
	for _, r := range base {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('_')
		}
	}
	name := sb.String()
	if name == "" || path == "-" || (name[0] >= '0' && name[0] <= '9') || cKeywords[name] || strings.Trim(name, "_") == "" {
		name = "cert_" + name
	}
	return strings.TrimRight(name, "_")
}
