package platform

import (
	"testing"
	"time"
)

// The DST rule of a schedule in Europe/Rome, as the Temporal dev server reports its next action times
// (probed: 30 2 * * * from 27 March 2027 fires next on the 29th; from 30 October 2027, once on the 31st at
// 02:30 CET): a 02:30 schedule does not fire on the last Sunday of March (02:00 jumps to 03:00) and fires
// once on the last Sunday of October, at the second 02:30 (CET).
func TestNextFiresAcrossDST(t *testing.T) {
	rome, _ := time.LoadLocation(TimeZone)
	march, err := NextFires("30 2 * * *", time.Date(2026, 3, 28, 12, 0, 0, 0, rome), 2)
	if err != nil {
		t.Fatal(err)
	}
	if march[0].Day() != 30 || march[0].Hour() != 2 || march[0].Minute() != 30 {
		t.Errorf("after 28 March: %v; want no fire on the 29th (no 02:30), the next on the 30th at 02:30", march)
	}
	october, err := NextFires("30 2 * * *", time.Date(2026, 10, 24, 12, 0, 0, 0, rome), 2)
	if err != nil {
		t.Fatal(err)
	}
	if october[0].Day() != 25 || october[1].Day() != 26 {
		t.Errorf("after 24 October: %v; want once on the 25th, then the 26th", october)
	}
	if _, off := october[0].Zone(); off != 3600 {
		t.Errorf("the 25 October fire is at UTC%+d, want the second 02:30 (CET, +1)", off/3600)
	}
}
