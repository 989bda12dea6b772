package probe

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadConnack(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Connack
		wantErr string
	}{
		{"accepted", []byte{0x20, 2, 0, 0}, Connack{}, ""},
		{"session present", []byte{0x20, 2, 1, 0}, Connack{SessionPresent: true}, ""},
		{"not authorized", []byte{0x20, 2, 0, 5}, Connack{ReturnCode: 5}, ""},
		{"undefined code", []byte{0x20, 2, 0, 9}, Connack{ReturnCode: 9}, ""},
		{"empty", nil, Connack{}, "EOF"},
		{"truncated body", []byte{0x20, 2, 0}, Connack{}, "unexpected EOF"},
		{"truncated length", []byte{0x20, 0x80}, Connack{}, "unexpected EOF"},
		{"other packet", []byte{0x30, 2, 0, 0}, Connack{}, "not a CONNACK"},
		{"header flags", []byte{0x21, 2, 0, 0}, Connack{}, "header flags"},
		{"mqtt5 properties", []byte{0x20, 3, 0, 0, 0}, Connack{}, "remaining length 3"},
		{"reserved ack flags", []byte{0x20, 2, 2, 0}, Connack{}, "reserved bits"},
		{"five length bytes", []byte{0x20, 0x80, 0x80, 0x80, 0x80, 0x01}, Connack{}, "more than four"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadConnack(bytes.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestReadConnackReadsOnlyThePacket(t *testing.T) {
	r := bytes.NewReader([]byte{0x20, 2, 0, 0, 0xd0, 0})
	if _, err := ReadConnack(r); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 2 {
		t.Fatalf("%d bytes left, want the 2 after the packet", r.Len())
	}
}

func TestConnectEncode(t *testing.T) {
	pkt, err := Connect{ClientID: "c", Username: "u", Password: "p", KeepAlive: 30}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 30, 0, 1, 'c', 0, 1, 'u', 0, 1, 'p'}
	if !bytes.Equal(pkt, want) {
		t.Fatalf("CONNECT % x\nwant    % x", pkt, want)
	}
	if _, err := (Connect{ClientID: "c", Password: "p"}).Encode(); err == nil {
		t.Fatal("password without user name accepted")
	}
	long, err := Connect{ClientID: strings.Repeat("x", 200)}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	n, err := readRemainingLength(bytes.NewReader(long[1:]))
	if err != nil || n != len(long)-3 {
		t.Fatalf("remaining length %d, %v; want %d", n, err, len(long)-3)
	}
}

func TestNewClientID(t *testing.T) {
	id := NewClientID()
	if !strings.HasPrefix(id, "certinit-probe-") || len(id) != 23 || id == NewClientID() {
		t.Fatalf("client id %q", id)
	}
}

// FuzzReadConnack feeds arbitrary bytes to the CONNACK reader: it must not
// panic, must not read past the packet, and what it accepts must be a
// well-formed CONNACK. Seeds live in testdata/fuzz/FuzzReadConnack.
func FuzzReadConnack(f *testing.F) {
	f.Add([]byte{0x20, 2, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		c, err := ReadConnack(r)
		if err != nil {
			if errors.Is(err, io.EOF) && len(data) != 0 {
				t.Fatalf("EOF after %d bytes should be ErrUnexpectedEOF: %v", len(data), err)
			}
			return
		}
		used := len(data) - r.Len()
		if used != 4 || data[0] != 0x20 || data[1] != 2 || data[2]&^1 != 0 {
			t.Fatalf("accepted % x (%d bytes) as %+v", data[:used], used, c)
		}
		if c.Meaning() == "" {
			t.Fatal("empty meaning")
		}
	})
}
