package warehouse

import (
	"fmt"
	"sort"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
)

// normalizer maps the codes of one dataset's observations onto the common model: the indicator onto
// indicators.csv, every coded dimension onto its code list (codelist.Model), the unit's multiplier from the
// source (UNIT_MULT) or the configuration plus what the unit code itself carries (Eurostat's THS).
type normalizer struct {
	model    *codelist.Model
	snap     Snapshot
	unmapped map[[2]string]int64
}

func newNormalizer(codes *codelist.Set, snap Snapshot) (*normalizer, error) {
	m, err := codes.Model()
	if err != nil {
		return nil, fmt.Errorf("code lists: %w", err)
	}
	return &normalizer{model: m, snap: snap, unmapped: map[[2]string]int64{}}, nil
}

// apply rewrites o's codes in place and returns the unit's power of ten and the columns left unmapped
// (comma-separated, "" when none).
func (n *normalizer) apply(o *connectors.Observation) (mult int, flagged string) {
	var cols []string
	flag := func(col, code string) {
		cols = append(cols, col)
		n.unmapped[[2]string{col, code}]++
	}
	if in, ok := n.model.Indicator(n.snap.Source, n.snap.Dataset, o.Indicator); ok {
		o.Indicator = in.ID
	} else {
		flag("indicator", o.Indicator)
	}
	if o.Unit == "" {
		o.Unit = n.snap.Unit
	}
	if o.UnitMult != nil {
		mult = *o.UnitMult
	} else if n.snap.UnitMult != nil {
		mult = *n.snap.UnitMult
	}
	for _, c := range []struct {
		dim string
		v   *string
	}{{codelist.Unit, &o.Unit}, {codelist.Freq, &o.Freq}, {codelist.Sex, &o.Sex}, {codelist.Age, &o.Age},
		{codelist.Education, &o.Education}, {codelist.Sector, &o.Sector}, {codelist.Citizenship, &o.Citizenship}} {
		code, m, ok := n.model.Code(n.snap.Source, c.dim, *c.v)
		*c.v = code
		mult += m
		if !ok && code != "" {
			flag(c.dim, code)
		}
	}
	return mult, strings.Join(cols, ",")
}

// report lists the unmapped codes by column and code.
func (n *normalizer) report() []Unmapped {
	out := make([]Unmapped, 0, len(n.unmapped))
	for k, rows := range n.unmapped {
		out = append(out, Unmapped{Column: k[0], Label: k[1], Count: rows})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Column != out[j].Column {
			return out[i].Column < out[j].Column
		}
		return out[i].Label < out[j].Label
	})
	return out
}
