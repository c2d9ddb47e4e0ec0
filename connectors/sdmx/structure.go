// Package sdmx reads the parts of SDMX 2.1 messages the platform needs from every SDMX source: the
// annotations of a dataflow (Eurostat's UPDATE_DATA, Istat's LAST_UPDATE) and the footer messages of a
// data message (Eurostat's legacy deferred delivery).
package sdmx

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// DataflowAnnotations returns the annotations of the dataflow with the given id (any id when id is ""),
// keyed by annotation type (or id, as Istat writes them), valued by the title.
func DataflowAnnotations(r io.Reader, id string) (map[string]string, error) {
	dec := xml.NewDecoder(r)
	var (
		inFlow  bool
		depth   int
		annType string
		annID   string
		title   string
		field   string
		found   bool
		out     = map[string]string{}
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("structure message: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if inFlow {
				depth++
			}
			switch t.Name.Local {
			case "Dataflow":
				if !inFlow && (id == "" || strings.EqualFold(attr(t, "id"), id)) {
					inFlow, depth, found = true, 0, true
				}
			case "Annotation":
				annType, title, annID = "", "", attr(t, "id")
			case "AnnotationTitle", "AnnotationType":
				field = t.Name.Local
			}
		case xml.CharData:
			switch field {
			case "AnnotationTitle":
				title += string(t)
			case "AnnotationType":
				annType += string(t)
			}
		case xml.EndElement:
			if inFlow {
				switch t.Name.Local {
				case "Annotation":
					key := strings.TrimSpace(annType)
					if key == "" {
						key = annID
					}
					if key != "" {
						if _, dup := out[key]; !dup {
							out[key] = strings.TrimSpace(title)
						}
					}
				case "Dataflow":
					if depth == 0 {
						return out, nil
					}
				}
				depth--
			}
			field = ""
		}
	}
	if !found {
		return nil, errors.New("structure message has no dataflow " + id)
	}
	return out, nil
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// FooterMessage is one message of an SDMX 2.1 data message footer.
type FooterMessage struct {
	Code     string
	Severity string
	Text     []string
}

// Footer returns the footer messages of an SDMX-ML data message.
func Footer(r io.Reader) ([]FooterMessage, error) {
	dec := xml.NewDecoder(r)
	var (
		out    []FooterMessage
		cur    *FooterMessage
		inText bool
		text   string
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("data message: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "Message" && strings.Contains(t.Name.Space, "footer") {
				out = append(out, FooterMessage{Code: attr(t, "code"), Severity: attr(t, "severity")})
				cur = &out[len(out)-1]
			} else if cur != nil && t.Name.Local == "Text" {
				inText, text = true, ""
			}
		case xml.CharData:
			if inText {
				text += string(t)
			}
		case xml.EndElement:
			if inText && t.Name.Local == "Text" {
				cur.Text = append(cur.Text, strings.TrimSpace(text))
				inText = false
			}
			if t.Name.Local == "Message" {
				cur = nil
			}
		}
	}
}

// Dimension is one dimension of a data structure definition.
type Dimension struct {
	ID       string
	Position int
	Concept  string   // the id of its concept (ConceptIdentity)
	Roles    []string // the ids of its concept roles (ConceptRole), e.g. REF_AREA
	Codelist string   // the id of its code list, e.g. CL_ITTER107
}

// DSD is what the platform reads of a data structure definition: its dimensions in key order (the time
// dimension is not part of a key).
type DSD struct {
	Dimensions []Dimension
}

// DataStructure reads the first data structure definition of a structure message.
func DataStructure(r io.Reader) (DSD, error) {
	dec := xml.NewDecoder(r)
	var (
		dsd    DSD
		cur    *Dimension
		inList bool
		in     string // ConceptIdentity, ConceptRole or Enumeration while inside one
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return DSD{}, errors.New("structure message has no DimensionList")
		}
		if err != nil {
			return DSD{}, fmt.Errorf("structure message: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "DimensionList":
				inList = true
			case "Dimension":
				if inList {
					var p int
					fmt.Sscanf(attr(t, "position"), "%d", &p)
					dsd.Dimensions = append(dsd.Dimensions, Dimension{ID: attr(t, "id"), Position: p})
					cur = &dsd.Dimensions[len(dsd.Dimensions)-1]
				}
			case "ConceptIdentity", "ConceptRole", "Enumeration":
				in = t.Name.Local
			case "Ref":
				switch {
				case cur == nil:
				case in == "ConceptIdentity":
					cur.Concept = attr(t, "id")
				case in == "ConceptRole":
					cur.Roles = append(cur.Roles, attr(t, "id"))
				case in == "Enumeration":
					cur.Codelist = attr(t, "id")
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "ConceptIdentity", "ConceptRole", "Enumeration":
				in = ""
			case "Dimension":
				cur = nil
			case "DimensionList":
				sort.SliceStable(dsd.Dimensions, func(i, j int) bool { return dsd.Dimensions[i].Position < dsd.Dimensions[j].Position })
				return dsd, nil
			}
		}
	}
}

// IDs returns the dimension ids in key order.
func (d DSD) IDs() []string {
	out := make([]string, len(d.Dimensions))
	for i, dim := range d.Dimensions {
		out[i] = dim.ID
	}
	return out
}

// territoryConcepts are the concepts and roles that say a dimension holds the reference area, and
// territoryCodelists the code lists of territories, as Istat, Eurostat and the SDMX global registry name them.
var (
	territoryConcepts  = []string{"REF_AREA", "ITTER107", "GEO", "TERRITORIO", "TERRITORY"}
	territoryCodelists = []string{"CL_ITTER107", "CL_AREA", "CL_GEO", "CL_REF_AREA"}
)

// Territory returns the id of the dimension that holds the reference area: the one whose role is REF_AREA,
// else whose concept or code list is a territory's, else whose id is; "" when none is.
func (d DSD) Territory() string {
	tests := []func(Dimension) bool{
		func(x Dimension) bool { return anyEqual(x.Roles, territoryConcepts[:1]) },
		func(x Dimension) bool { return anyEqual([]string{x.Concept}, territoryConcepts) },
		func(x Dimension) bool { return anyEqual([]string{x.Codelist}, territoryCodelists) },
		func(x Dimension) bool { return anyEqual([]string{x.ID}, territoryConcepts) },
	}
	for _, test := range tests {
		for _, x := range d.Dimensions {
			if test(x) {
				return x.ID
			}
		}
	}
	return ""
}

// TerritoryColumn returns the concept among keys (the columns of an observation) that holds the reference
// area when no DSD is at hand: the first of the territory concepts present.
func TerritoryColumn(keys map[string]string) string {
	for _, c := range territoryConcepts {
		if _, ok := keys[c]; ok {
			return c
		}
	}
	return ""
}

func anyEqual(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h != "" && strings.EqualFold(h, w) {
				return true
			}
		}
	}
	return false
}
