package warehouse

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// SplitCSV cuts a CSV stream into chunk files of about chunkBytes in dir, each starting with the stream's
// header line, cut only at a line end outside quotes, and sends each path on out as soon as it is
// complete. The same stream and chunkBytes always give the same chunks.
func SplitCSV(ctx context.Context, r io.Reader, dir string, chunkBytes int64, out chan<- string) error {
	br := bufio.NewReaderSize(r, 1<<20)
	header, err := br.ReadBytes('\n')
	if err != nil && !(err == io.EOF && len(header) > 0) {
		return fmt.Errorf("split: header: %w", err)
	}
	if !bytes.HasSuffix(header, []byte("\n")) {
		header = append(header, '\n')
	}
	buf := make([]byte, 8<<20)
	var (
		f       *os.File
		w       *bufio.Writer
		written int64
		quotes  int // quote characters in the current chunk: even means outside a quoted field
		index   int
	)
	open := func() error {
		var err error
		f, err = os.Create(filepath.Join(dir, fmt.Sprintf("chunk-%04d.csv", index)))
		if err != nil {
			return err
		}
		index++
		w = bufio.NewWriterSize(f, 4<<20)
		written, quotes = 0, 0
		_, err = w.Write(header)
		return err
	}
	closeAndSend := func() error {
		if err := w.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		select {
		case out <- f.Name():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := open(); err != nil {
		return err
	}
	for {
		n, rerr := br.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			if written+int64(len(data)) < chunkBytes {
				quotes += bytes.Count(data, []byte{'"'})
				if _, err := w.Write(data); err != nil {
					return err
				}
				written += int64(len(data))
				break
			}
			// Past the size: cut at the first line end outside quotes from where the chunk reached it.
			from := max(0, int(chunkBytes-written))
			q := quotes + bytes.Count(data[:from], []byte{'"'})
			cut := -1
			for i := from; i < len(data); {
				j := bytes.IndexByte(data[i:], '\n')
				if j < 0 {
					break
				}
				q += bytes.Count(data[i:i+j], []byte{'"'})
				if q%2 == 0 {
					cut = i + j + 1
					break
				}
				i += j + 1
			}
			if cut < 0 { // no cut in this buffer: keep filling this chunk
				quotes += bytes.Count(data, []byte{'"'})
				if _, err := w.Write(data); err != nil {
					return err
				}
				written += int64(len(data))
				break
			}
			if _, err := w.Write(data[:cut]); err != nil {
				return err
			}
			if err := closeAndSend(); err != nil {
				return err
			}
			if err := open(); err != nil {
				return err
			}
			data = data[cut:]
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			f.Close()
			return fmt.Errorf("split: %w", rerr)
		}
		if err := ctx.Err(); err != nil {
			f.Close()
			return err
		}
	}
	if written == 0 && index > 1 { // the last cut fell on the end of the stream
		f.Close()
		return os.Remove(f.Name())
	}
	return closeAndSend()
}
