package jcl

// The keyword parameters each statement accepts. Lists follow the z/OS MVS
// JCL Reference; rarely used keywords are included so that valid JCL is not
// rejected.

func isJobKeyword(k string) bool {
	switch k {
	case "ADDRSPC", "BYTES", "CARDS", "CCSID", "CLASS", "COND", "DSENQSHR", "EMAIL",
		"GDGBIAS", "GROUP", "JESLOG", "JOBRC", "LINES", "MEMLIMIT", "MSGCLASS",
		"MSGLEVEL", "NOTIFY", "PAGES", "PASSWORD", "PERFORM", "PRTY", "RD", "REGION",
		"REGIONX", "RESTART", "SCHENV", "SECLABEL", "SYSAFF", "SYSTEM", "TIME",
		"TYPRUN", "UJOBCORR", "USER", "SYMLIST", "DSNENQ":
		return true
	}
	return false
}

func isExecKeyword(k string) bool {
	switch k {
	case "PGM", "PROC", "ACCT", "ADDRSPC", "CCSID", "COND", "DPRTY", "DYNAMNBR",
		"MEMLIMIT", "PARM", "PARMDD", "PERFORM", "RD", "REGION", "REGIONX",
		"RLSTMOUT", "TIME", "TVSMSG", "TVSAMCOM":
		return true
	}
	return false
}

func isDDKeyword(k string) bool {
	switch k {
	case "ACCODE", "AMP", "AVGREC", "BLKSIZE", "BLKSZLIM", "BURST", "CCSID", "CHARS",
		"CHKPT", "CNTL", "COPIES", "DATACLAS", "DCB", "DDNAME", "DEST", "DISP", "DLM",
		"DSID", "DSKEYLBL", "DSN", "DSNAME", "DSNTYPE", "EATTR", "EXPDT", "FCB",
		"FILEDATA", "FLASH", "FREE", "FREEVOL", "GDGORDER", "HOLD", "KEYENCD1",
		"KEYENCD2", "KEYLABL1", "KEYLABL2", "KEYLEN", "KEYOFF", "LABEL", "LGSTREAM",
		"LIKE", "LRECL", "MAXGENS", "MGMTCLAS", "MODIFY", "OUTLIM", "OUTPUT", "PATH",
		"PATHDISP", "PATHMODE", "PATHOPTS", "PROTECT", "QNAME", "RECFM", "RECORG",
		"REFDD", "RETPD", "RLS", "ROACCESS", "SECMODEL", "SEGMENT", "SPACE", "SPIN",
		"STORCLAS", "SUBSYS", "SYMBOLS", "SYMLIST", "SYSOUT", "TERM", "UCS", "UNIT",
		"VOL", "VOLUME", "DSORG", "OPTCD", "BUFNO", "NCP", "DEN", "TRTCH", "BUFL":
		return true
	}
	return false
}

func isPathOption(v string) bool {
	switch v {
	case "OCREAT", "OEXCL", "ONOCTTY", "OTRUNC", "OAPPEND", "ONONBLOCK", "ORDWR",
		"ORDONLY", "OWRONLY", "OSYNC":
		return true
	}
	return false
}

func isPathMode(v string) bool {
	switch v {
	case "SIRUSR", "SIWUSR", "SIXUSR", "SIRWXU", "SIRGRP", "SIWGRP", "SIXGRP",
		"SIRWXG", "SIROTH", "SIWOTH", "SIXOTH", "SIRWXO", "SISUID", "SISGID", "SISVTX":
		return true
	}
	return false
}

// knownOperation reports whether op is a JCL operation this package knows.
func knownOperation(op string) bool {
	switch op {
	case "JOB", "EXEC", "DD", "PROC", "PEND", "SET", "JCLLIB", "INCLUDE", "IF",
		"ELSE", "ENDIF", "OUTPUT", "CNTL", "ENDCNTL", "XMIT", "COMMAND", "EXPORT",
		"SCHEDULE", "NOTIFY":
		return true
	}
	return false
}

// symbolsInQuotes reports whether symbols inside apostrophes are substituted
// in the value of keyword k.
func symbolsInQuotes(k string) bool {
	switch k {
	case "PARM", "ACCT", "PATH", "AMP", "SUBSYS":
		return true
	}
	return false
}
