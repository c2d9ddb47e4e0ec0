package activities

import (
	"context"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/openlineage"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// trace begins the OpenLineage run of a job in this activity's workflow run (nil when lineage is off).
func (a *Activities) trace(ctx context.Context, job, sql string, nominal time.Time, inputs ...openlineage.Dataset) *openlineage.RunTrace {
	if a.Lineage == nil {
		return nil
	}
	wf, run := execution(ctx)
	return a.Lineage.Begin(ctx, job, openlineage.Parent{Workflow: wf, Run: run, Nominal: nominal}, sql, inputs)
}

// object is a dataset of the platform's bucket (nil-safe on a disabled emitter).
func (a *Activities) object(key, sha256 string, columns []warehouse.Column) openlineage.Dataset {
	if a.Lineage == nil {
		return openlineage.Dataset{}
	}
	var fields []openlineage.Field
	for _, c := range columns {
		fields = append(fields, openlineage.Field{Name: c.Name, Type: c.Type, Description: c.Description})
	}
	return a.Lineage.Object(key, sha256, fields)
}

// tableFields are the schema fields of a release table.
func tableFields(r release.Resource) []warehouse.Column {
	var out []warehouse.Column
	for _, f := range r.Schema.Fields {
		out = append(out, warehouse.Column{Name: f.Name, Type: f.Type, Description: f.Description})
	}
	return out
}
