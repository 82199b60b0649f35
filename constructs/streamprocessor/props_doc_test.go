package streamprocessor

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestPropsDocumented: every field of StreamProcessorProps and MonitoringProps
// documents its default in a last line "Default: ...", and the construct
// reference (docs/construct.md) names every one of them.
func TestPropsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/construct.md")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	want := map[string]string{"StreamProcessorProps": "props.go", "MonitoringProps": "monitoring.go"}
	for typ, file := range want {
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name != typ {
				return true
			}
			found = true
			for _, field := range ts.Type.(*ast.StructType).Fields.List {
				for _, name := range field.Names {
					lines := strings.Split(strings.TrimSpace(field.Doc.Text()), "\n")
					if last := lines[len(lines)-1]; !strings.HasPrefix(last, "Default:") {
						t.Errorf("%s.%s: the last line of its comment is %q, want \"Default: ...\"", typ, name.Name, last)
					}
					if !strings.Contains(string(doc), "`"+name.Name+"`") {
						t.Errorf("docs/construct.md does not mention %s.%s", typ, name.Name)
					}
				}
			}
			return false
		})
		if !found {
			t.Errorf("type %s not found in %s", typ, file)
		}
	}
}
