// Package jcl holds socksd's z/OS JCL samples and the code that validates
// and renders them.
//
// The samples (the started-task procedure, its environment, the socksd
// configuration, a batch FTP job and its FTP.DATA and SOCKS files, operator
// and host-key jobs, installation and RACF jobs) live as text/template files
// under templates/ and are rendered for a site with [Render]. The files under
// samples/ are the same templates rendered with [DefaultSite] (embedded too,
// see [Sample]); a test keeps them in sync: after changing a template, run
// go test ./jcl -update and review the diff of samples/ and testdata/golden/.
//
// [Check] validates JCL: statement and field syntax, names, the 71-column
// limit, continuation rules, in-stream data, symbolic parameters, IF/ENDIF
// nesting and PROC/PEND pairing. Input may be ASCII or IBM-1047 (as lines or
// as fixed 80-byte records). [ReadDeck] and [ExtractInstream] read the FTP
// INPUT deck of a batch FTP job.
package jcl
