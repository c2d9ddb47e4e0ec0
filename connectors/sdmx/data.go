package sdmx

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
)

// Obs is one observation of an SDMX data message: every dimension and attribute of its series and of the
// observation itself, by concept id, in Values; and its position in the message.
type Obs struct {
	Values   map[string]string
	Position int64
}

// ReadStructureSpecific streams an SDMX-ML 2.1 StructureSpecificData message and calls emit for every
// observation, in document order. Data set and series attributes are merged with those of each Obs (the
// Obs wins, then the series).
// Observations directly under DataSet (dimensionAtObservation=AllDimensions) work the same way.
func ReadStructureSpecific(r io.Reader, emit func(Obs) error) error {
	dec := xml.NewDecoder(r)
	var (
		dataset map[string]string
		series  map[string]string
		inData  bool
		pos     int64
		sawData bool
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !sawData {
				return fmt.Errorf("not an SDMX data message: no DataSet element")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("data message: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "DataSet":
				inData, sawData = true, true
				dataset = concepts(attrs(t, nil))
			case "Series":
				if inData {
					series = attrs(t, dataset)
				}
			case "Obs":
				if !inData {
					continue
				}
				base := series
				if base == nil {
					base = dataset
				}
				vals := attrs(t, base)
				if err := emit(Obs{Values: vals, Position: pos}); err != nil {
					return err
				}
				pos++
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "Series":
				series = nil
			case "DataSet":
				inData = false
			}
		}
	}
}

// concepts keeps the attributes of a DataSet element that are concepts (upper case ids such as UNIT_MULT),
// not the element's own unqualified attributes (action, setID, reportingBeginDate …).
func concepts(m map[string]string) map[string]string {
	for k := range m {
		if k == "" || k[0] < 'A' || k[0] > 'Z' {
			delete(m, k)
		}
	}
	return m
}

func attrs(t xml.StartElement, base map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(t.Attr))
	for k, v := range base {
		out[k] = v
	}
	for _, a := range t.Attr {
		if a.Name.Space != "" && a.Name.Space != "xmlns" {
			continue // xsi:type and other qualified attributes are not concepts
		}
		if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
			continue
		}
		out[a.Name.Local] = a.Value
	}
	return out
}

// Keys returns the concept ids of an observation, sorted.
func (o Obs) Keys() []string {
	out := make([]string, 0, len(o.Values))
	for k := range o.Values {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ReadGeneric streams an SDMX-ML 2.1 GenericData message (Istat's default) and calls emit for every
// observation: the data set's Attributes, the SeriesKey and series Attributes merged with the ObsKey or
// ObsDimension (as TIME_PERIOD), the ObsValue (as OBS_VALUE) and the observation's Attributes.
func ReadGeneric(r io.Reader, emit func(Obs) error) error {
	dec := xml.NewDecoder(r)
	var (
		dataset = map[string]string{}
		series  map[string]string
		obs     map[string]string
		inData  bool
		sawData bool
		pos     int64
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !sawData {
				return fmt.Errorf("not an SDMX data message: no DataSet element")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("data message: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "DataSet":
				inData, sawData = true, true
			case "Series":
				if inData {
					series = make(map[string]string, len(dataset)+8)
					for k, v := range dataset {
						series[k] = v
					}
				}
			case "Obs":
				if inData {
					base := series
					if base == nil { // dimensionAtObservation=AllDimensions: no Series
						base = dataset
					}
					obs = make(map[string]string, len(base)+8)
					for k, v := range base {
						obs[k] = v
					}
				}
			case "Value":
				id, value := attrValue(t, "id"), attrValue(t, "value")
				switch {
				case id == "":
				case obs != nil:
					obs[id] = value
				case series != nil:
					series[id] = value
				case inData:
					dataset[id] = value
				}
			case "ObsDimension":
				if obs != nil {
					id := attrValue(t, "id")
					if id == "" {
						id = "TIME_PERIOD"
					}
					obs[id] = attrValue(t, "value")
				}
			case "ObsValue":
				if obs != nil {
					obs["OBS_VALUE"] = attrValue(t, "value")
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "Obs":
				if obs != nil {
					if err := emit(Obs{Values: obs, Position: pos}); err != nil {
						return err
					}
					pos++
					obs = nil
				}
			case "Series":
				series = nil
			case "DataSet":
				inData = false
			}
		}
	}
}

func attrValue(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}
