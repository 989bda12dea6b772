package probe

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// MQTT 3.1.1 control packet types used by the probe (OASIS MQTT 3.1.1,
// section 2.2.1).
const (
	packetConnect = 1
	packetConnack = 2
)

// connackReturnCodes are MQTT 3.1.1's CONNACK return codes (section 3.2.2.3)
// with what each means for the person running the probe.
var connackReturnCodes = map[byte]string{
	0: "connection accepted",
	1: "unacceptable protocol version: the broker does not speak MQTT 3.1.1",
	2: "identifier rejected: the broker refused the client id",
	3: "server unavailable: the broker is up but the MQTT service is not",
	4: "bad user name or password: check --mqtt-user/--mqtt-password against the broker's password_file",
	5: "not authorized: the broker refuses this client (allow_anonymous false without credentials, or an ACL/plugin denial)",
}

// Connack is a decoded CONNACK packet.
type Connack struct {
	SessionPresent bool
	ReturnCode     byte
}

// Accepted reports whether the broker accepted the connection.
func (c Connack) Accepted() bool { return c.ReturnCode == 0 }

// Meaning explains the return code.
func (c Connack) Meaning() string {
	if m, ok := connackReturnCodes[c.ReturnCode]; ok {
		return m
	}
	return fmt.Sprintf("return code %d, which MQTT 3.1.1 does not define", c.ReturnCode)
}

// ErrNotConnack means the broker answered CONNECT with another packet.
var ErrNotConnack = errors.New("not a CONNACK packet")

// ReadConnack reads one CONNACK packet (MQTT 3.1.1, section 3.2) from r. It
// reads exactly the packet's bytes and checks everything the specification
// fixes: type 2 with flags 0, remaining length 2, reserved acknowledge
// flags 0.
func ReadConnack(r io.ByteReader) (Connack, error) {
	first, err := r.ReadByte()
	if err != nil {
		return Connack{}, fmt.Errorf("read CONNACK: %w", err)
	}
	if first>>4 != packetConnack {
		return Connack{}, fmt.Errorf("%w: packet type %d", ErrNotConnack, first>>4)
	}
	if first&0x0f != 0 {
		return Connack{}, fmt.Errorf("malformed CONNACK: header flags %#x, want 0", first&0x0f)
	}
	n, err := readRemainingLength(r)
	if err != nil {
		return Connack{}, err
	}
	if n != 2 {
		return Connack{}, fmt.Errorf("malformed CONNACK: remaining length %d, want 2 (an MQTT 5 reply to a 3.1.1 CONNECT?)", n)
	}
	flags, err := r.ReadByte()
	if err != nil {
		return Connack{}, fmt.Errorf("read CONNACK: %w", noEOF(err))
	}
	code, err := r.ReadByte()
	if err != nil {
		return Connack{}, fmt.Errorf("read CONNACK: %w", noEOF(err))
	}
	if flags&^1 != 0 {
		return Connack{}, fmt.Errorf("malformed CONNACK: acknowledge flags %#x, reserved bits set", flags)
	}
	return Connack{SessionPresent: flags&1 == 1, ReturnCode: code}, nil
}

// readRemainingLength decodes MQTT's variable byte integer (section 2.2.3):
// at most four bytes, seven bits each, least significant first, and no
// more bytes than the value needs.
func readRemainingLength(r io.ByteReader) (int, error) {
	value, mult := 0, 1
	for i := 0; i < 4; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("read remaining length: %w", noEOF(err))
		}
		value += int(b&0x7f) * mult
		if b&0x80 == 0 {
			if b == 0 && i > 0 {
				return 0, errors.New("malformed remaining length: not minimally encoded")
			}
			return value, nil
		}
		mult *= 128
	}
	return 0, errors.New("malformed remaining length: more than four bytes")
}

// noEOF turns an EOF inside a packet into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Connect is an MQTT 3.1.1 CONNECT packet's content.
type Connect struct {
	ClientID  string
	Username  string // empty: no user name flag
	Password  string // empty: no password flag
	KeepAlive uint16 // seconds
}

// Encode returns the CONNECT packet (section 3.1) with a clean session.
func (c Connect) Encode() ([]byte, error) {
	var body []byte
	body = appendString(body, "MQTT")
	body = append(body, 4) // protocol level 4 = 3.1.1
	flags := byte(0x02)    // clean session
	if c.Username != "" {
		flags |= 0x80
	}
	if c.Password != "" {
		if c.Username == "" {
			return nil, errors.New("MQTT 3.1.1 needs a user name to send a password")
		}
		flags |= 0x40
	}
	body = append(body, flags, byte(c.KeepAlive>>8), byte(c.KeepAlive))
	payload := []string{c.ClientID} // always present, even when empty
	if c.Username != "" {
		payload = append(payload, c.Username)
	}
	if c.Password != "" {
		payload = append(payload, c.Password)
	}
	for _, s := range payload {
		if len(s) > 0xffff {
			return nil, errors.New("MQTT string longer than 65535 bytes")
		}
		body = appendString(body, s)
	}
	pkt := []byte{packetConnect << 4}
	pkt = appendRemainingLength(pkt, len(body))
	return append(pkt, body...), nil
}

func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)>>8), byte(len(s)))
	return append(b, s...)
}

func appendRemainingLength(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// NewClientID returns "certinit-probe-" and eight random hex digits: 23
// characters, the longest client id every 3.1.1 broker must accept.
func NewClientID() string {
	var b [4]byte
	rand.Read(b[:])
	return "certinit-probe-" + hex.EncodeToString(b[:])
}

// exchangeConnect sends CONNECT on rw and reads the CONNACK.
func exchangeConnect(rw io.ReadWriter, c Connect) (Connack, error) {
	pkt, err := c.Encode()
	if err != nil {
		return Connack{}, err
	}
	if _, err := rw.Write(pkt); err != nil {
		return Connack{}, fmt.Errorf("send CONNECT: %w", err)
	}
	return ReadConnack(bufio.NewReaderSize(rw, 16))
}
