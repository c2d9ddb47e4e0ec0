package config

import (
	"fmt"
	"regexp"
	"time"
)

// Rome is the time zone of embargo clock times.
var Rome = mustZone("Europe/Rome")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

var clockRE = regexp.MustCompile(`^([01]\d|2[0-3]):([0-5]\d)$`)

// EmbargoUntil is when a release built at built may be published under a source's publish_at: "HH:MM"
// is the next such time in Europe/Rome (a release built at 10:00 sharp waits for the next day), a
// duration ("90s", "2h") is that long after the build, "" is at once (the zero time).
func EmbargoUntil(spec string, built time.Time) (time.Time, error) {
	if spec == "" {
		return time.Time{}, nil
	}
	if m := clockRE.FindStringSubmatch(spec); m != nil {
		var h, min int
		fmt.Sscanf(m[1]+" "+m[2], "%d %d", &h, &min)
		local := built.In(Rome)
		at := time.Date(local.Year(), local.Month(), local.Day(), h, min, 0, 0, Rome)
		if !at.After(built) {
			at = time.Date(local.Year(), local.Month(), local.Day()+1, h, min, 0, 0, Rome)
		}
		return at, nil
	}
	d, err := time.ParseDuration(spec)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("publish_at %q: want a time of day like 10:00 (Europe/Rome) or a duration like 2h", spec)
	}
	return built.Add(d), nil
}
