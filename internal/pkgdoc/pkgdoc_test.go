package pkgdoc

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// edge is what a doc comment says to draw the package's edge.
var edge = regexp.MustCompile(`(?i)\b(not|never|no code)\b`)

// TestPackageDocs: every Go package in the module (testdata excluded) has
// a doc comment on one of its non-test files that begins "Package NAME"
// ("Command NAME" for a command) and says what the package is not for.
func TestPackageDocs(t *testing.T) {
	root := testutil.ModuleRoot(t)
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			dirs[filepath.Dir(p)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 10 {
		t.Fatalf("found only %d package directories under %s", len(dirs), root)
	}
	for dir := range dirs {
		rel, _ := filepath.Rel(root, dir)
		t.Run(rel, func(t *testing.T) {
			docs := packageDocs(t, dir)
			for name, doc := range docs {
				want := "Package " + name
				if name == "main" {
					want = "Command "
				}
				switch {
				case doc == "":
					t.Errorf("package %s has no doc comment", name)
				case !strings.HasPrefix(doc, want):
					t.Errorf("package %s: doc comment begins %q, want %q", name, firstLine(doc), want)
				case !edge.MatchString(doc):
					t.Errorf("package %s: doc comment does not say what the package is not for:\n%s", name, doc)
				}
			}
		})
	}
}

// packageDocs maps the name of each package in dir (its non-test files)
// to its doc comment, "" when none of its files has one.
func packageDocs(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	fset := token.NewFileSet()
	for _, p := range files {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		name := f.Name.Name
		if _, ok := docs[name]; !ok {
			docs[name] = ""
		}
		if f.Doc != nil {
			docs[name] = f.Doc.Text()
		}
	}
	return docs
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
