// Command tlogcheck checks stet's checkpoints and proofs with the Go reference implementation
// of transparency logs (golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog), and plays
// a C2SP tlog-witness. It shares no code with stet: it reads only the documented formats
// (docs/LEDGER.md). The integration tests build and run it.
//
//	tlogcheck vectors                     RFC 6962 tree hashes of the reference leaves
//	tlogcheck treehash < leaves.hex       size and base64 root of hex leaves, one per line
//	tlogcheck checkpoint VKEY FILE        verify a signed checkpoint; print origin, size, root
//	tlogcheck proof VKEY FILE             verify a `stet proof` file's tlog-proofs and text
//	tlogcheck consistency VKEY OLDSIZE OLDROOT BODY
//	                                      verify a saved add-checkpoint request body
//	tlogcheck witness VKEY WITNESS_SKEY LOGDIR
//	                                      serve add-checkpoint on 127.0.0.1 (prints the address)
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: tlogcheck vectors|treehash|checkpoint|proof|consistency|witness ..."))
	}
	var err error
	switch os.Args[1] {
	case "vectors":
		err = vectors()
	case "treehash":
		err = treehash()
	case "checkpoint":
		err = checkpointCmd(os.Args[2], os.Args[3])
	case "proof":
		err = proofCmd(os.Args[2], os.Args[3])
	case "consistency":
		err = consistencyCmd(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	case "witness":
		err = witness(os.Args[2], os.Args[3], os.Args[4])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "tlogcheck:", err)
	os.Exit(1)
}

// treeOf returns the tree hash of records with these record hashes, through tlog's own storage
// layout (StoredHashes, TreeHash).
func treeOf(records [][]byte) (tlog.Hash, error) {
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for n, r := range records {
		hs, err := tlog.StoredHashes(int64(n), r, reader)
		if err != nil {
			return tlog.Hash{}, err
		}
		stored = append(stored, hs...)
	}
	return tlog.TreeHash(int64(len(records)), reader)
}

func vectors() error {
	leaves := []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
		"606162636465666768696a6b6c6d6e6f"}
	roots := []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	var records [][]byte
	for i, l := range leaves {
		b, _ := hex.DecodeString(l)
		records = append(records, b)
		h, err := treeOf(records)
		if err != nil {
			return err
		}
		if hex.EncodeToString(h[:]) != roots[i] {
			return fmt.Errorf("size %d: tlog gives %x, RFC 6962 says %s", i+1, h[:], roots[i])
		}
	}
	fmt.Println("ok: tlog agrees with the RFC 6962 tree hashes for sizes 1..8")
	return nil
}

func treehash() error {
	var records [][]byte
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil {
			return err
		}
		records = append(records, b)
	}
	h, err := treeOf(records)
	if err != nil {
		return err
	}
	fmt.Printf("%d %s\n", len(records), base64.StdEncoding.EncodeToString(h[:]))
	return nil
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// openCheckpoint verifies a signed checkpoint with the log's verifier key.
func openCheckpoint(vkey string, msg []byte) (checkpoint, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return checkpoint{}, err
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return checkpoint{}, errors.New("a checkpoint has three lines")
	}
	if lines[0] != v.Name() {
		return checkpoint{}, fmt.Errorf("origin %q is not the key's name %q", lines[0], v.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return checkpoint{}, err
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != 32 {
		return checkpoint{}, errors.New("bad root hash")
	}
	var root tlog.Hash
	copy(root[:], raw)
	return checkpoint{lines[0], size, root}, nil
}

func checkpointCmd(vkey, file string) error {
	msg, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	c, err := openCheckpoint(vkey, msg)
	if err != nil {
		return err
	}
	fmt.Printf("%s %d %s\n", c.origin, c.size, base64.StdEncoding.EncodeToString(c.root[:]))
	return nil
}

// fields splits a stet ledger entry into its length-prefixed fields (docs/LEDGER.md).
func fields(entry []byte) ([]string, error) {
	var out []string
	for len(entry) > 0 {
		if len(entry) < 4 {
			return nil, errors.New("truncated length")
		}
		n := binary.BigEndian.Uint32(entry)
		entry = entry[4:]
		if n == 0xffffffff {
			out = append(out, "")
			continue
		}
		if uint32(len(entry)) < n {
			return nil, errors.New("truncated field")
		}
		out = append(out, string(entry[:n]))
		entry = entry[n:]
	}
	return out, nil
}

func proofCmd(vkey, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var f struct {
		URL     string   `json:"url"`
		Version int64    `json:"version"`
		Entries []string `json:"entries"`
		Text    string   `json:"text"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	if len(f.Entries) == 0 {
		return errors.New("no entry")
	}
	for _, p := range f.Entries {
		head, cp, ok := strings.Cut(p, "\n\n")
		if !ok {
			return errors.New("no checkpoint in the tlog-proof")
		}
		c, err := openCheckpoint(vkey, []byte(cp))
		if err != nil {
			return err
		}
		lines := strings.Split(head, "\n")
		if lines[0] != "c2sp.org/tlog-proof@v1" || !strings.HasPrefix(lines[1], "extra ") ||
			!strings.HasPrefix(lines[2], "index ") {
			return errors.New("not a tlog-proof with extra data")
		}
		entry, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[1], "extra "))
		if err != nil {
			return err
		}
		index, err := strconv.ParseInt(strings.TrimPrefix(lines[2], "index "), 10, 64)
		if err != nil {
			return err
		}
		var rp tlog.RecordProof
		for _, l := range lines[3:] {
			raw, err := base64.StdEncoding.DecodeString(l)
			if err != nil || len(raw) != 32 {
				return errors.New("bad proof hash")
			}
			var h tlog.Hash
			copy(h[:], raw)
			rp = append(rp, h)
		}
		if err := tlog.CheckRecord(rp, c.size, c.root, index, tlog.RecordHash(entry)); err != nil {
			return fmt.Errorf("entry at index %d: %v", index, err)
		}
		fs, err := fields(entry)
		if err != nil {
			return err
		}
		if len(fs) < 9 || fs[4] != f.URL || fs[5] != strconv.FormatInt(f.Version, 10) {
			return errors.New("the entry is not of the file's URL and version")
		}
		sum := sha256.Sum256([]byte(f.Text))
		if fs[7] != hex.EncodeToString(sum[:]) {
			return fmt.Errorf("the text hashes to %x, the entry says %s", sum, fs[7])
		}
		fmt.Printf("ok: entry %s (%s) of %s v%d is in the tree of %d entries of %s\n",
			fs[1], fs[3], f.URL, f.Version, c.size, c.origin)
	}
	return nil
}

// addCheckpoint parses an add-checkpoint request body.
func addCheckpoint(body []byte) (old int64, proof tlog.TreeProof, msg []byte, err error) {
	head, msg, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return 0, nil, nil, errors.New("no empty line")
	}
	lines := strings.Split(string(head), "\n")
	if !strings.HasPrefix(lines[0], "old ") {
		return 0, nil, nil, errors.New("no old size line")
	}
	old, err = strconv.ParseInt(strings.TrimPrefix(lines[0], "old "), 10, 64)
	if err != nil {
		return 0, nil, nil, err
	}
	for _, l := range lines[1:] {
		raw, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(raw) != 32 {
			return 0, nil, nil, errors.New("bad proof hash")
		}
		var h tlog.Hash
		copy(h[:], raw)
		proof = append(proof, h)
	}
	return old, proof, msg, nil
}

func consistencyCmd(vkey, oldSize, oldRoot, file string) error {
	body, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	old, proof, msg, err := addCheckpoint(body)
	if err != nil {
		return err
	}
	c, err := openCheckpoint(vkey, msg)
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(oldSize, 10, 64)
	if err != nil || n != old {
		return fmt.Errorf("the request proves from %d, not %s", old, oldSize)
	}
	raw, err := base64.StdEncoding.DecodeString(oldRoot)
	if err != nil || len(raw) != 32 {
		return errors.New("bad old root")
	}
	var h tlog.Hash
	copy(h[:], raw)
	if err := tlog.CheckTree(proof, c.size, c.root, old, h); err != nil {
		return err
	}
	fmt.Printf("ok: the tree of %d entries is a prefix of the tree of %d\n", old, c.size)
	return nil
}

func witness(vkey, skey, logdir string) error {
	signer, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return err
	}
	var mu sync.Mutex
	type state struct {
		size int64
		root tlog.Hash
	}
	seen := map[string]state{}
	requests := 0
	http.HandleFunc("/add-checkpoint", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		requests++
		os.WriteFile(filepath.Join(logdir, fmt.Sprintf("%d.txt", requests)), body, 0o644)
		old, proof, msg, err := addCheckpoint(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c, err := openCheckpoint(vkey, msg)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		if old > c.size {
			http.Error(w, "old size is larger than the checkpoint", http.StatusBadRequest)
			return
		}
		prev := seen[c.origin]
		if old != prev.size {
			w.Header().Set("Content-Type", "text/x.tlog.size")
			w.WriteHeader(http.StatusConflict)
			fmt.Fprintf(w, "%d\n", prev.size)
			return
		}
		if old == c.size && c.root != prev.root && old != 0 {
			w.Header().Set("Content-Type", "text/x.tlog.size")
			w.WriteHeader(http.StatusConflict)
			fmt.Fprintf(w, "%d\n", prev.size)
			return
		}
		if old > 0 && old < c.size {
			if err := tlog.CheckTree(proof, c.size, c.root, old, prev.root); err != nil {
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
				return
			}
		}
		seen[c.origin] = state{c.size, c.root}
		signed, err := note.Sign(&note.Note{Text: string(msg[:bytes.Index(msg, []byte("\n\n"))+1])}, signer)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sigs := signed[bytes.Index(signed, []byte("\n\n"))+2:]
		w.Write(sigs)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("listening http://%s\n", ln.Addr())
	os.Stdout.Sync()
	return http.Serve(ln, nil)
}
