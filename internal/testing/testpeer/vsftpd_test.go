package testpeer

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

func TestStartVSFTPD(t *testing.T) {
	v := StartVSFTPD(t, VSFTPDConfig{WriteEnable: true})
	v.WriteFile(t, "hello.txt", []byte("hello\n"))
	c, err := net.DialTimeout("tcp", v.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	expect := func(prefix string) {
		t.Helper()
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, prefix) {
			t.Fatalf("got %q, %v; want %s...", line, err, prefix)
		}
	}
	expect("220")
	c.Write([]byte("USER " + v.User + "\r\n"))
	expect("331")
	c.Write([]byte("PASS " + v.Password + "\r\n"))
	expect("230")
	c.Write([]byte("SIZE hello.txt\r\n"))
	expect("213 6")
	c.Write([]byte("PORT 127,0,0,1,200,1\r\n"))
	expect("550") // port_enable=NO: "550 Permission denied."
	c.Write([]byte("QUIT\r\n"))
	expect("221")
	if n := v.WaitLog("SIZE hello.txt", 1, 5*time.Second); n != 1 {
		t.Fatalf("log has %d SIZE lines:\n%s", n, v.Log())
	}
}
