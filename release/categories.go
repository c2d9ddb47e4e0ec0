package release

import (
	"context"
	"fmt"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// categoryOf names the labels dimension of each coded column of the release tables.
var categoryOf = map[string]string{
	"sex": "sex", "age": "age", "age_class": "age", "education": "education", "sector": "sector",
	"sector_section": "sector", "citizenship": "citizenship", "citizenship_group": "citizenship",
	"unit": "unit", "freq": "freq", "contract_class": "contract_class",
}

// categorize gives every coded field of the resources the codes it holds, with their Italian labels (Data
// Package v2 categories), from the labels table at labels: a reader of datapackage.json alone sees what
// "F" or "ED5-8" means.
func categorize(ctx context.Context, db *warehouse.DB, labels string, resources []Resource) error {
	rows, err := db.SQL().QueryContext(ctx, "SELECT dimension, code, label_it FROM read_parquet('"+strings.ReplaceAll(labels, "'", "''")+"') ORDER BY dimension, code")
	if err != nil {
		return fmt.Errorf("categories: %w", err)
	}
	defer rows.Close()
	byDim := map[string][]Category{}
	for rows.Next() {
		var dim string
		var c Category
		if err := rows.Scan(&dim, &c.Value, &c.Label); err != nil {
			return err
		}
		byDim[dim] = append(byDim[dim], c)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range resources {
		for j, f := range resources[i].Schema.Fields {
			if dim, ok := categoryOf[f.Name]; ok && resources[i].Name != "labels" {
				resources[i].Schema.Fields[j].Categories = byDim[dim]
			}
		}
	}
	return nil
}
