package socks_test

import (
	"fmt"
	"net"

	"socksd/socks"
)

// A daemon reads a request, decides, and answers with the real bound
// address; here the client is this package's own client over loopback.
func ExampleReadRequest() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		bound, err := socks.ClientHandshake(c, 5, socks.Addr{Host: "ftp.partner.example", Port: 21}, "JOB1", "s3cret")
		fmt.Println("client:", bound.Port != 0, err)
	}()

	conn, err := ln.Accept()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	cfg := socks.ServerConfig{Versions: []int{4, 5}, Methods: []socks.Method{socks.MethodUserPass, socks.MethodNone}}
	req, err := socks.ReadRequest(conn, cfg)
	if err != nil {
		fmt.Println(err) // the refusal has been sent already
		return
	}
	fmt.Println("server:", req) // never shows the password
	// ... open the upstream, then:
	socks.WriteReply(conn, req.Version, socks.RepSucceeded, socks.AddrFromNet(conn.LocalAddr()))
	var b [1]byte
	conn.Read(b[:]) // wait for the client to finish
	// Output:
	// server: socks5 connect ftp.partner.example:21 user="JOB1" method=userpass
	// client: true <nil>
}

func ExampleParseProxyURL() {
	v, hostport, user, _, err := socks.ParseProxyURL("socks5h://JOB1:s3cret@proxy.lan")
	fmt.Println(v, hostport, user, err)
	// Output: 5 proxy.lan:1080 JOB1 <nil>
}

func ExampleReplyCode() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	ln.Close() // now nothing listens there
	_, err = net.Dial("tcp", ln.Addr().String())
	fmt.Println(socks.ReplyCode(err))
	// Output: connection refused
}
