package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"os"
	"path/filepath"

	"github.com/osservatorio-lombardia/osservatorio/console"
	"github.com/osservatorio-lombardia/osservatorio/explore"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// Bundle makes the territorial reports of a release being built, for release.BuildOptions.Reports: one
// page per territory with monthly flows (the 12 provinces and the region, reports/<istat>.html), an index
// (reports/index.html), and the chart library they load from beside them with its licence (the same bytes
// in every release, so the blob store keeps them once). Every figure comes from the release's own tables.
func Bundle(ctx context.Context, db *warehouse.DB, m *release.Manifest, tables map[string]string, dir string) ([]release.ReportFile, error) {
	e := &explore.Explorer{DB: db, Staged: &explore.Staged{Manifest: m, Tables: tables}}
	var out []release.ReportFile
	add := func(name, media string, data []byte) error {
		local := filepath.Join(dir, name)
		if err := os.WriteFile(local, data, 0o644); err != nil {
			return err
		}
		out = append(out, release.ReportFile{Path: "reports/" + name, Local: local, MediaType: media})
		return nil
	}
	var made []explore.Territory
	for _, t := range explore.Territories() {
		r, err := Build(ctx, e, m.Version, t.Istat)
		if errors.Is(err, explore.ErrQuestion) {
			continue // no flows for this territory in the release
		}
		if err != nil {
			return nil, fmt.Errorf("report of %s: %w", t.Istat, err)
		}
		var page bytes.Buffer
		if err := r.page(&page, EChartsFile); err != nil {
			return nil, err
		}
		if err := add(t.Istat+".html", "text/html; charset=utf-8", page.Bytes()); err != nil {
			return nil, err
		}
		made = append(made, t)
	}
	if len(made) == 0 {
		return nil, nil
	}
	var index bytes.Buffer
	if err := indexTmpl.Execute(&index, struct {
		Version     string
		Territories []explore.Territory
	}{m.Version, made}); err != nil {
		return nil, err
	}
	if err := add("index.html", "text/html; charset=utf-8", index.Bytes()); err != nil {
		return nil, err
	}
	for _, f := range []string{EChartsFile, "echarts-LICENSE.txt", "echarts-NOTICE.txt"} {
		data, err := console.Asset("vendor/" + f)
		if err != nil {
			return nil, err
		}
		media := "text/plain; charset=utf-8"
		if f == EChartsFile {
			media = "text/javascript"
		}
		if err := add(f, media, data); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="it"><head><meta charset="utf-8"><title>Rapporti territoriali, rilascio {{.Version}}</title></head>
<body><h1>Le dinamiche degli eventi lavorativi nei territori lombardi</h1>
<p>Rilascio {{.Version}}: un rapporto per territorio, dalle tabelle di questo rilascio.</p>
<ul>{{range .Territories}}<li><a href="{{.Istat}}.html">{{.Name}}</a></li>{{end}}</ul>
</body></html>
`))
