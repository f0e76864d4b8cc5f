package demo

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
)

// dataset is a local "data set" of the simulated z/OS system.
type dataset struct {
	Data []byte // nil when only the digest is known (a GET in active mode)
	Sum  [32]byte
	Size int64
}

// fileServer is what the interpreter asks of the FTP server to verify a
// transfer.
type fileServer interface {
	Sum(name string) ([32]byte, int64, error)
}

// interpreter runs a deck's subcommands as the z/OS FTP client would, on
// an ftpClient, against in-memory local data sets, and checks every
// transfer against the server's copy.
type interpreter struct {
	mode     string // "passive" or "active": names the checks
	client   ftpClient
	server   fileServer
	prefix   string // the TSO prefix of unquoted data set names
	datasets map[string]*dataset
	out      *printer
	stored   []string // remote files this run stored
}

// textDataset makes an 80-byte-record text data set.
func textDataset(name string, records int) *dataset {
	var b strings.Builder
	for i := 1; i <= records; i++ {
		fmt.Fprintf(&b, "%-79.79s\n", fmt.Sprintf("%s RECORD %05d SOCKSD DEMO PAYLOAD", name, i))
	}
	data := []byte(b.String())
	return &dataset{Data: data, Sum: sha256.Sum256(data), Size: int64(len(data))}
}

// prepare creates the local data sets the deck's put steps read, when
// they do not exist yet.
func (in *interpreter) prepare(d *Deck) error {
	for _, st := range d.Steps {
		if st.Verb != "put" {
			continue
		}
		name, err := DatasetName(st.Args[0], in.prefix)
		if err != nil {
			return err
		}
		if in.datasets[name] == nil {
			in.datasets[name] = textDataset(name, 1000)
		}
	}
	return nil
}

// Run runs the deck: login, then each step. A failed step is reported as
// a failed check and the run goes on, as a z/OS batch FTP does without
// EXIT; a broken control connection ends it.
func (in *interpreter) Run(ctx context.Context, d *Deck) {
	if err := in.prepare(d); err != nil {
		in.out.Check(in.mode+": local data sets", false, "%v", err)
		return
	}
	in.out.Detailf("> %s", d.User)
	in.out.Detailf("> ********")
	err := in.client.Login(d.User, d.Password)
	in.out.Check(in.mode+": login through socksd and SSH", err == nil, "%s", errText(err, "logged in as "+d.User+" (230)"))
	if err != nil {
		return
	}
	for _, st := range d.Steps {
		if ctx.Err() != nil {
			in.out.Check(in.mode+": deck finished in time", false, "%v", ctx.Err())
			return
		}
		in.out.Detailf("> %s", st)
		if !in.step(ctx, st) {
			return
		}
	}
}

func errText(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
}

// step runs one subcommand; false ends the run.
func (in *interpreter) step(ctx context.Context, st Step) bool {
	name := fmt.Sprintf("%s: %s", in.mode, st)
	switch st.Verb {
	case "site", "quote":
		line := st.Args[0]
		if st.Verb == "site" {
			line = "SITE " + line
		}
		code, text, err := in.client.Quote(line)
		if err != nil {
			in.out.Check(name, false, "%v", err)
			return false
		}
		in.out.Check(name, code/100 == 2, "%d %s", code, text)
	case "binary", "ascii", "cd":
		line := map[string]string{"binary": "TYPE I", "ascii": "TYPE A"}[st.Verb]
		if st.Verb == "cd" {
			line = "CWD " + st.Args[0]
		}
		code, text, err := in.client.Quote(line)
		if err != nil {
			in.out.Check(name, false, "%v", err)
			return false
		}
		in.out.Check(name, code/100 == 2, "%d %s", code, text)
	case "put":
		in.put(ctx, name, st)
	case "get":
		in.get(ctx, name, st)
	case "dir", "ls":
		start := time.Now()
		listing, err := in.client.List(ctx)
		if err != nil {
			in.out.Check(name, false, "%v", err)
			return true
		}
		in.out.Block("    ", listing)
		var missing []string
		for _, f := range in.stored {
			if !strings.Contains(listing, f) {
				missing = append(missing, f)
			}
		}
		in.out.Check(name, len(missing) == 0, "%d lines in %v, stored files listed (missing: %v)",
			strings.Count(listing, "\n"), time.Since(start).Round(time.Millisecond), missing)
	case "quit":
		err := in.client.Quit()
		in.out.Check(name, err == nil, "%s", errText(err, "QUIT sent, session ended"))
		return false
	}
	return true
}

func (in *interpreter) put(ctx context.Context, name string, st Step) {
	local, err := DatasetName(st.Args[0], in.prefix)
	if err != nil {
		in.out.Check(name, false, "%v", err)
		return
	}
	remote := RemoteName(local)
	if len(st.Args) > 1 {
		remote = st.Args[1]
	}
	ds := in.datasets[local]
	if ds == nil || ds.Data == nil {
		in.out.Check(name, false, "local data set %s has no data", local)
		return
	}
	start := time.Now()
	err = in.client.Put(ctx, remote, ds.Data)
	took := time.Since(start)
	if err != nil {
		in.out.Check(name, false, "STOR %s: %v", remote, err)
		return
	}
	in.stored = append(in.stored, remote)
	sum, n, err := in.server.Sum(remote)
	ok := err == nil && sum == ds.Sum && n == ds.Size
	in.out.Transfer(in.mode+" STOR "+remote, ds.Size, took, ok)
	in.out.Check(name, ok,
		"STOR %s %s in %v (%s), SHA-256 local %s server %s", remote, size(ds.Size),
		took.Round(time.Millisecond), rate(ds.Size, took), short(ds.Sum), short(sum))
}

func (in *interpreter) get(ctx context.Context, name string, st Step) {
	remote := st.Args[0]
	localOp := remote
	if len(st.Args) > 1 {
		localOp = st.Args[1]
	}
	local, err := DatasetName(localOp, in.prefix)
	if err != nil {
		in.out.Check(name, false, "%v", err)
		return
	}
	if in.datasets[local] != nil && !st.Replace {
		// As the z/OS client: an existing data set is kept without (REPLACE.
		in.out.Check(name, false, "local data set %s exists; (replace not given", local)
		return
	}
	start := time.Now()
	got, err := in.client.Get(ctx, remote)
	took := time.Since(start)
	if err != nil {
		in.out.Check(name, false, "RETR %s: %v", remote, err)
		return
	}
	in.datasets[local] = &dataset{Sum: got.Sum, Size: got.Size}
	sum, n, err := in.server.Sum(remote)
	ok := err == nil && sum == got.Sum && n == got.Size
	in.out.Transfer(in.mode+" RETR "+remote, got.Size, took, ok)
	in.out.Check(name, ok,
		"RETR %s into %s, %s in %v (%s), SHA-256 server %s local %s", remote, local, size(got.Size),
		took.Round(time.Millisecond), rate(got.Size, took), short(sum), short(got.Sum))
}
