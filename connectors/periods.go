package connectors

import "fmt"

// PeriodMonths reads a period as a backfill names it (YYYY, YYYY-Qn or YYYY-MM) and returns its first and
// last month, counted from year 0 (year*12 + month-1).
func PeriodMonths(p string) (first, last int, err error) {
	bad := fmt.Errorf("period %q: YYYY, YYYY-Qn or YYYY-MM", p)
	var y, n int
	if len(p) < 4 || p[0] < '1' || p[0] > '2' {
		return 0, 0, bad
	}
	if _, err := fmt.Sscanf(p[:4], "%d", &y); err != nil {
		return 0, 0, bad
	}
	switch rest := p[4:]; {
	case rest == "":
		return y * 12, y*12 + 11, nil
	case len(rest) == 3 && rest[:2] == "-Q" && rest[2] >= '1' && rest[2] <= '4':
		n = int(rest[2] - '0')
		return y*12 + 3*n - 3, y*12 + 3*n - 1, nil
	case len(rest) == 3 && rest[0] == '-':
		if _, err := fmt.Sscanf(rest[1:], "%d", &n); err == nil && n >= 1 && n <= 12 {
			return y*12 + n - 1, y*12 + n - 1, nil
		}
	}
	return 0, 0, bad
}

// MonthStart is the first day of a month counted as PeriodMonths counts, as YYYY-MM-DD.
func MonthStart(m int) string { return fmt.Sprintf("%04d-%02d-01", m/12, m%12+1) }
