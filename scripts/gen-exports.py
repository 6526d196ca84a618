#!/usr/bin/env python3
"""Generate ntoskrnl-stubs/exports/exports.tsv: every export kemu's synthesized
ntoskrnl.exe and hal.dll provide, with its prototype.

Run from anywhere (paths are relative to the repository root):

    python3 scripts/gen-exports.py

Sources of export names (their union, per module):

1. mingw-w64 import libraries /usr/x86_64-w64-mingw32/lib/libntoskrnl.a and
   libhal.a.  The archives are parsed directly (ar + COFF, stdlib only): the
   DLL a library imports from is read from the `.idata$7` section of its
   `...t.o` member (the `_iname` string, "ntoskrnl.exe" / "HAL.dll"), and the
   export name of each member from its `.idata$6` hint/name entry -- not from
   the symbol name, which can differ (`strlwr` imports `_strlwr`).  A member
   that defines a code thunk (an external symbol in `.text`) is a function
   export; one that only defines `__imp_Name` is a data export.
2. /work/shared/reference/import-frequency.tsv (`count<TAB>module!name`):
   every ntoskrnl.exe / hal.dll name in it is exported under the module it
   names.  Other modules listed there (fltmgr.sys, ndis.sys, ...) are not
   produced by this script.
3. ntoskrnl-stubs/exports/additions.tsv: hand-written rows, same columns as
   the output, for exports Windows 10 22H2 has that mingw lacks.  A row whose
   name mingw does have only supplies the prototype (or the data type and
   size) when the DDK headers declare none.

Prototypes come from the mingw-w64 DDK headers (/usr/share/mingw-w64/include/
ddk: ntifs.h, which pulls in ntddk.h and wdm.h, plus wdmsec.h and csq.h).  A
generated C file including them is parsed with

    clang-14 --target=x86_64-w64-windows-gnu -fms-extensions -Wno-everything
             -I<ddk> -Xclang -ast-dump=json -fsyntax-only

(plus the configuration's -D flags, see below) and the top-level FunctionDecl
/ VarDecl / TypedefDecl nodes are read from the JSON; `clang -E -dM` on the
same file gives the macros.  For a function declared several times, the first declaration whose
parameters are all named wins (else the first one).  Inline definitions count
as declarations (KeGetCurrentIrql, KeInitializeSpinLock, ...).  A function
clang knows as a builtin (memcpy, strlen) keeps clang's builtin type, so its
return type is spelled canonically (`unsigned long long`, not `size_t`).
Lookup order, first hit wins: a declaration in the DDK headers (also parsed
a second time with -D__REACTOS__, wdm.h's only switch that keeps the
NO_LEGACY_DRIVERS declarations -- HalGetBusData & co. -- that _WIN64 hides);
the additions.tsv row; a DDK macro that merely renames another function
(`#define IoCallDriver IofCallDriver`, found with `clang -E -dM`); the Nt/Zw
twin's DDK declaration (ZwXxx and NtXxx share a prototype); a declaration in
the user-mode SDK / CRT headers (windows.h, winternl.h, ntsecapi.h,
mstcpip.h, stdio.h, wchar.h, string.h, stdlib.h, ctype.h, parsed with
-D__USE_MINGW_ANSI_STDIO=0); the twin's SDK declaration; else unknown.

The return class is found by following the return type's typedef chain
(TypedefDecl nodes, ending at the AST's desugaredQualType): NTSTATUS anywhere
in the chain -> status; BOOLEAN / LOGICAL -> bool; a pointer (HANDLE, PVOID,
...) -> pointer; void -> void; an integer, enum, or (U)LARGE_INTEGER /
POWER_STATE union by value -> integer; anything else -> unknown.

Data sizes: a generated C file declares `char kemu_size_Name[sizeof(Name)];`
(after `#undef Name`, as ntddk.h defines HalDispatchTable to its own address)
for each data export declared in the headers; it is compiled with -fcommon so
each becomes a COFF common symbol whose value is its size, read back with
llvm-nm.  Data exports the headers do not declare take type and size from
additions.tsv, else `?` and 0 (unknown).

Output columns (tab separated, one `#` header line, rows sorted by module then
name; byte-identical on rerun):

    module  name  kind  return_class  return_type  params  data_size

The tools can be overridden with the environment variables KEMU_CLANG and
KEMU_LLVM_NM.
"""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "ntoskrnl-stubs", "exports")
OUT = os.path.join(OUT_DIR, "exports.tsv")
ADDITIONS = os.path.join(OUT_DIR, "additions.tsv")
FREQUENCY = "/work/shared/reference/import-frequency.tsv"
MINGW_LIB = "/usr/x86_64-w64-mingw32/lib"
IMPORT_LIBS = ["libntoskrnl.a", "libhal.a"]
DDK = "/usr/share/mingw-w64/include/ddk"
DDK_HEADERS = ["ntifs.h", "ntddk.h", "wdm.h", "wdmsec.h", "csq.h"]
# User-mode SDK and CRT headers: a last resort for Nt*/Rtl*/CRT exports the
# DDK does not declare (RtlUnwindEx, NtQuerySystemInformation, _vsnprintf...).
SDK_HEADERS = ["winsock2.h", "windows.h", "winternl.h", "ntsecapi.h",
               "ws2ipdef.h", "mstcpip.h", "stdio.h", "wchar.h", "string.h",
               "stdlib.h", "ctype.h"]
CLANG = os.environ.get("KEMU_CLANG", "clang-14")
LLVM_NM = os.environ.get("KEMU_LLVM_NM", "llvm-nm")
CLANG_ARGS = ["--target=x86_64-w64-windows-gnu", "-fms-extensions",
              "-Wno-everything", "-I" + DDK]

MODULES = ("hal.dll", "ntoskrnl.exe")
COLUMNS = ["module", "name", "kind", "return_class", "return_type", "params",
           "data_size"]
RETURN_CLASSES = ("status", "void", "bool", "pointer", "integer", "unknown")


def die(msg):
    sys.stderr.write("gen-exports: " + msg + "\n")
    sys.exit(1)


def module_name(dll):
    m = dll.lower()
    if m not in MODULES:
        die("unexpected DLL name %r in an import library" % dll)
    return m


# ---------------------------------------------------------------- archives --

def ar_members(path):
    """Yield (member name, bytes) for each member of a GNU/SysV ar archive."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"!<arch>\n":
        die(path + " is not an ar archive")
    off, longnames = 8, b""
    while off + 60 <= len(data):
        hdr = data[off:off + 60]
        name = hdr[:16].decode("ascii").rstrip()
        size = int(hdr[48:58].decode("ascii"))
        body = data[off + 60:off + 60 + size]
        off += 60 + size + (size & 1)
        if name == "//":
            longnames = body
            continue
        if name in ("/", "/SYM64/"):
            continue
        if name.startswith("/") and name[1:].isdigit():
            start = int(name[1:])
            end = longnames.index(b"\n", start)
            name = longnames[start:end].decode("ascii")
        yield name.rstrip("/"), body


def coff_parse(obj):
    """Return ({section name: [raw data]}, [(symbol, section number, class)])."""
    _mach, nsec, _ts, symoff, nsym, optsz, _ch = struct.unpack_from("<HHIIIHH", obj, 0)
    sections, numbers = {}, {}
    for i in range(nsec):
        o = 20 + optsz + 40 * i
        name = obj[o:o + 8].rstrip(b"\0").decode("ascii")
        _vs, _va, rawsz, rawptr = struct.unpack_from("<IIII", obj, o + 8)
        sections.setdefault(name, []).append(obj[rawptr:rawptr + rawsz])
        numbers[i + 1] = name
    strtab = symoff + 18 * nsym
    symbols, i = [], 0
    while i < nsym:
        o = symoff + 18 * i
        raw = obj[o:o + 8]
        if raw[:4] == b"\0\0\0\0":
            s = strtab + struct.unpack_from("<I", raw, 4)[0]
            raw = obj[s:obj.index(b"\0", s)]
        else:
            raw = raw.rstrip(b"\0")
        _value, secnum, _typ, cls, naux = struct.unpack_from("<IhHBB", obj, o + 8)
        symbols.append((raw.decode("ascii"), numbers.get(secnum, secnum), cls))
        i += 1 + naux
    return sections, symbols


def read_import_lib(path):
    """Return {module: {export name: 'function' | 'data'}} for one import lib."""
    inames = {}     # _iname symbol -> DLL name
    heads = {}      # _head symbol -> _iname symbol
    entries = []    # (head symbol, export name, kind)
    for member, obj in ar_members(path):
        sections, symbols = coff_parse(obj)
        defined = [s for s, sec, cls in symbols if cls == 2 and isinstance(sec, str)]
        undefined = [s for s, sec, cls in symbols if cls == 2 and sec == 0]
        if ".idata$6" in sections:
            hint_name = sections[".idata$6"][0]
            name = hint_name[2:hint_name.index(b"\0", 2)].decode("ascii")
            code = [s for s, sec, cls in symbols
                    if cls == 2 and sec == ".text" and not s.startswith("__imp_")]
            head = [s for s in undefined if s.startswith("_head_")]
            if len(head) != 1:
                die("%s(%s): cannot tell which DLL it imports from" % (path, member))
            entries.append((head[0], name, "function" if code else "data"))
        elif any(s.startswith("_head_") for s in defined):
            head = [s for s in defined if s.startswith("_head_")][0]
            iname = [s for s in undefined if s.endswith("_iname")]
            heads[head] = iname[0]
        elif any(s.endswith("_iname") for s in defined) and ".idata$7" in sections:
            iname = [s for s in defined if s.endswith("_iname")][0]
            raw = sections[".idata$7"][0]
            inames[iname] = raw[:raw.index(b"\0")].decode("ascii")
    result = {}
    for head, name, kind in entries:
        if head not in heads or heads[head] not in inames:
            die("%s: import entry %s has no DLL name" % (path, name))
        mod = module_name(inames[heads[head]])
        prev = result.setdefault(mod, {}).get(name)
        if prev and prev != kind:
            die("%s: %s is both function and data" % (path, name))
        result[mod][name] = kind
    return result


# ------------------------------------------------------------ other inputs --

def read_frequency():
    names = []
    with open(FREQUENCY, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            _count, qualified = line.split("\t")
            mod, name = qualified.split("!", 1)
            mod = mod.lower()
            if mod in MODULES:
                names.append((mod, name))
    return names


def read_additions():
    rows = {}
    with open(ADDITIONS, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) != len(COLUMNS):
                die("additions.tsv:%d: expected %d tab-separated columns, got %d"
                    % (lineno, len(COLUMNS), len(cols)))
            row = dict(zip(COLUMNS, cols))
            if row["module"] not in MODULES:
                die("additions.tsv:%d: bad module %r" % (lineno, row["module"]))
            if row["kind"] == "function":
                if row["return_class"] not in RETURN_CLASSES or row["data_size"] != "0":
                    die("additions.tsv:%d: bad function row" % lineno)
            elif row["kind"] == "data":
                if row["return_class"] != "-" or row["return_type"] != "-" \
                        or not row["data_size"].isdigit():
                    die("additions.tsv:%d: bad data row" % lineno)
            else:
                die("additions.tsv:%d: bad kind %r" % (lineno, row["kind"]))
            key = (row["module"], row["name"])
            if key in rows:
                die("additions.tsv:%d: duplicate %s!%s" % (lineno, key[0], key[1]))
            rows[key] = row
    return rows


# ----------------------------------------------------------------- headers --

class Config:
    """One preprocessor view of the headers, parsed once with clang."""

    def __init__(self, name, includes, defines):
        self.name, self.includes, self.defines = name, includes, defines
        self.funcs, self.variables, self.typedefs, self.aliases = {}, {}, {}, {}

    def source(self):
        return "".join("#include <%s>\n" % h for h in self.includes)

    def clang(self, extra, src_text, tmp):
        src = os.path.join(tmp, self.name + ".c")
        with open(src, "w") as f:
            f.write(src_text)
        proc = subprocess.run([CLANG] + CLANG_ARGS + self.defines + extra + [src],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False)
        if proc.returncode != 0:
            die("clang failed on the %s headers:\n%s"
                % (self.name, proc.stderr.decode(errors="replace")))
        return proc.stdout

    def parse(self):
        with tempfile.TemporaryDirectory(prefix="kemu-exports-") as tmp:
            ast = json.loads(self.clang(["-Xclang", "-ast-dump=json", "-fsyntax-only"],
                                        self.source(), tmp))
            macros = self.clang(["-E", "-dM"], self.source(), tmp).decode()
        for node in ast.get("inner", []):
            kind, name = node.get("kind"), node.get("name")
            if not name:
                continue
            if kind == "FunctionDecl":
                self.funcs.setdefault(name, []).append(node)
            elif kind == "VarDecl":
                self.variables.setdefault(name, []).append(node)
            elif kind == "TypedefDecl":
                self.typedefs.setdefault(name, node["type"])
        for line in macros.splitlines():
            alias = macro_alias(line)
            if alias:
                self.aliases[alias[0]] = alias[1]


IDENT = r"[A-Za-z_][A-Za-z_0-9]*"
OBJECT_MACRO = re.compile(r"#define (%s) \(*(%s)\)*$" % (IDENT, IDENT))
FUNCTION_MACRO = re.compile(r"#define (%s)\(([^)]*)\) (.*)$" % IDENT)


def macro_alias(line):
    """'#define IoCallDriver IofCallDriver' or '#define A(x, y) B((x), y)' ->
    (A, B): A is only another spelling of the function B."""
    m = OBJECT_MACRO.match(line.strip())
    if m:
        return m.group(1), m.group(2)
    m = FUNCTION_MACRO.match(line.strip())
    if not m:
        return None
    params = [a.strip() for a in m.group(2).split(",") if a.strip()]
    body = re.sub(r"\s+", "", m.group(3))
    while body.startswith("(") and body.endswith(")") and balanced(body[1:-1]):
        body = body[1:-1]
    call = re.match(r"\(*(%s)\)*\((.*)\)$" % IDENT, body)
    if not call or not balanced(call.group(2)):
        return None
    args = [a for a in split_args(call.group(2))]
    stripped = []
    for a in args:
        while a.startswith("(") and a.endswith(")") and balanced(a[1:-1]):
            a = a[1:-1]
        stripped.append(a)
    if stripped != params and not (stripped == [""] and not params):
        return None
    return m.group(1), call.group(1)


def balanced(text):
    depth = 0
    for c in text:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


def split_args(text):
    args, depth, cur = [], 0, ""
    for c in text:
        if c == "," and depth == 0:
            args.append(cur)
            cur = ""
            continue
        depth += {"(": 1, ")": -1}.get(c, 0)
        cur += c
    args.append(cur)
    return args


def clean(text):
    return re.sub(r"\s+", " ", text).strip()


def matching_open(text, close):
    """Index of the '(' matching the ')' at text[close], or -1."""
    depth = 0
    for i in range(close, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            depth -= 1
            if depth == 0:
                return i
    return -1


def strip_trailing_attributes(qual):
    """'int (int) __attribute__((cdecl))' -> 'int (int)'."""
    qual = qual.strip()
    while qual.endswith(")"):
        i = matching_open(qual, len(qual) - 1)
        head = qual[:i].rstrip()
        if i < 0 or not head.endswith("__attribute__"):
            break
        qual = head[:-len("__attribute__")].rstrip()
    return qual


def split_function_type(qual):
    """'NTSTATUS (PVOID, ULONG) __attribute__((x))' -> ('NTSTATUS',
    'PVOID, ULONG'), or None when it is not a plain function type."""
    qual = strip_trailing_attributes(qual)
    if not qual.endswith(")"):
        return None
    i = matching_open(qual, len(qual) - 1)
    if i <= 0:
        return None
    return qual[:i].strip(), qual[i + 1:-1].strip()


QUALIFIERS = re.compile(r"\b(const|volatile|restrict|__restrict)\b")


def classify(spelled, typedefs):
    """Return class of a return type spelled as in the header."""
    chain, t = [], spelled
    for _ in range(64):
        t = clean(QUALIFIERS.sub("", t))
        if t == "void":
            return "void"
        if "*" in t or "(" in t or "[" in t:
            break
        chain.append(t)
        if t not in typedefs:
            break
        entry = typedefs[t]
        nxt = entry.get("qualType", "")
        if nxt == t:
            nxt = entry.get("desugaredQualType", t)
        t = nxt
    if "NTSTATUS" in chain:
        return "status"
    if "BOOLEAN" in chain or "LOGICAL" in chain:
        return "bool"
    if "*" in t or "(" in t or "[" in t:
        return "pointer"
    base = chain[-1] if chain else t
    if base.startswith("enum "):
        return "integer"
    if base in ("union _LARGE_INTEGER", "union _ULARGE_INTEGER", "union _POWER_STATE"):
        return "integer"
    ints = {"char", "signed char", "unsigned char", "short", "unsigned short",
            "int", "unsigned int", "long", "unsigned long", "long long",
            "unsigned long long", "__int64", "unsigned __int64", "_Bool",
            "wchar_t", "unsigned", "signed", "short int", "long int",
            "long long int", "unsigned short int", "unsigned long int",
            "unsigned long long int", "__int128", "unsigned __int128"}
    if base in ints:
        return "integer"
    return "unknown"


def spell_param(qual, name):
    qual = clean(strip_trailing_attributes(qual))
    if not name:
        return qual
    if "(*)" in qual:
        return qual.replace("(*)", "(*%s)" % name, 1)
    if qual.endswith("]"):
        i = qual.index("[")
        return "%s %s%s" % (qual[:i].rstrip(), name, qual[i:])
    if qual.endswith("*"):
        return qual + name
    return qual + " " + name


def function_prototype(decls, typedefs):
    def params_of(d):
        return [p for p in d.get("inner", []) if p.get("kind") == "ParmVarDecl"]
    chosen = None
    for d in decls:
        if all(p.get("name") for p in params_of(d)):
            chosen = d
            break
    if chosen is None:
        chosen = decls[0]
    split = split_function_type(chosen["type"]["qualType"])
    if split is None:
        return None
    ret, inside = split
    params = [spell_param(p["type"]["qualType"], p.get("name", ""))
              for p in params_of(chosen)]
    if chosen.get("variadic"):
        params.append("...")
    if not params:
        if inside != "void":
            return None     # K&R declaration without a prototype
        params = ["void"]
    return classify(ret, typedefs), clean(ret), "; ".join(params)


def data_sizes(config, names):
    """sizeof(Name) for each data export the config declares, via COFF commons."""
    if not names:
        return {}
    # #undef first: ntddk.h has `#define HalDispatchTable (&HalDispatchTable)`.
    text = config.source() + "".join(
        "#undef %s\nchar kemu_size_%s[sizeof(%s)];\n" % (n, n, n) for n in names)
    with tempfile.TemporaryDirectory(prefix="kemu-exports-") as tmp:
        obj = os.path.join(tmp, "sizes.o")
        config.clang(["-fcommon", "-c", "-o", obj], text, tmp)
        out = subprocess.run([LLVM_NM, obj], stdout=subprocess.PIPE, check=True)
    sizes = {}
    for line in out.stdout.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "C" and parts[2].startswith("kemu_size_"):
            sizes[parts[2][len("kemu_size_"):]] = int(parts[0], 16)
    missing = [n for n in names if n not in sizes]
    if missing:
        die("no size computed for " + ", ".join(missing))
    return sizes


# -------------------------------------------------------------------- main --

def declared(name, configs):
    """Prototype from the first config that declares `name` as a function."""
    for config in configs:
        if name in config.funcs:
            proto = function_prototype(config.funcs[name], config.typedefs)
            if proto:
                return proto
    return None


def aliased(name, configs):
    """Prototype of the function a macro renames `name` to
    (`#define IoCallDriver IofCallDriver`)."""
    for config in configs:
        target, seen = name, set()
        while target in config.aliases and target not in seen:
            seen.add(target)
            target = config.aliases[target]
            if target in config.funcs:
                proto = function_prototype(config.funcs[target], config.typedefs)
                if proto:
                    return proto
    return None


def twin(name):
    """ZwXxx and NtXxx share one prototype."""
    if name.startswith("Zw"):
        return "Nt" + name[2:]
    if name.startswith("Nt"):
        return "Zw" + name[2:]
    return None


def find_function(name, ddk_configs, sdk_configs, addition):
    """Prototype lookup, first hit wins:
    1. declared in the DDK headers;
    2. additions.tsv;
    3. a DDK macro that only renames another DDK function;
    4. the Nt/Zw twin declared in the DDK;
    5. declared in the SDK/CRT headers;
    6. the Nt/Zw twin declared in the SDK headers."""
    proto = declared(name, ddk_configs)
    if proto is None and addition is not None:
        proto = (addition["return_class"], addition["return_type"], addition["params"])
    if proto is None:
        proto = aliased(name, ddk_configs)
    if proto is None and twin(name):
        proto = declared(twin(name), ddk_configs)
    if proto is None:
        proto = declared(name, sdk_configs)
    if proto is None and twin(name):
        proto = declared(twin(name), sdk_configs)
    return proto or ("unknown", "?", "?")


def main():
    lib_kinds = {m: {} for m in MODULES}
    for lib in IMPORT_LIBS:
        for mod, entries in read_import_lib(os.path.join(MINGW_LIB, lib)).items():
            lib_kinds[mod].update(entries)
    additions = read_additions()
    frequency = read_frequency()

    # Precedence: DDK (driver view) > DDK with the legacy x64 declarations
    # (wdm.h defines NO_LEGACY_DRIVERS on _WIN64, hiding HalGetBusData & co.
    # that x64 hal.dll still exports; __REACTOS__ is wdm.h's only switch to
    # keep them) > additions.tsv > user-mode SDK / CRT headers.
    ddk = Config("ddk", DDK_HEADERS, [])
    legacy = Config("ddk-legacy", DDK_HEADERS, ["-D__REACTOS__"])
    sdk = Config("sdk", SDK_HEADERS, ["-D__USE_MINGW_ANSI_STDIO=0"])
    for config in (ddk, legacy, sdk):
        config.parse()

    exports = {}    # (module, name) -> kind
    for mod in MODULES:
        for name, kind in lib_kinds[mod].items():
            exports[(mod, name)] = kind
    for key, row in additions.items():
        if key in exports and exports[key] != row["kind"]:
            die("additions.tsv says %s!%s is %s, the import library says %s"
                % (key[0], key[1], row["kind"], exports[key]))
        exports[key] = row["kind"]
    for key in frequency:
        if key not in exports:
            name = key[1]
            declared_data = any(name in c.variables and name not in c.funcs
                                for c in (ddk, legacy, sdk))
            exports[key] = "data" if declared_data else "function"

    var_source, sizes = {}, {}
    data_names = sorted({n for (m, n), k in exports.items() if k == "data"})
    for config in (ddk, legacy, sdk):
        mine = [n for n in data_names if n in config.variables and n not in var_source]
        for n in mine:
            var_source[n] = config
        sizes.update(data_sizes(config, mine))

    rows = []
    for (mod, name) in sorted(exports):
        kind = exports[(mod, name)]
        add = additions.get((mod, name))
        if kind == "function":
            proto = find_function(name, (ddk, legacy), (sdk,), add)
            rows.append([mod, name, kind, proto[0], proto[1], proto[2], "0"])
        else:
            if name in var_source and (add is None or var_source[name] is not sdk):
                vtype = clean(var_source[name].variables[name][0]["type"]["qualType"])
                size = str(sizes[name])
            elif add is not None:
                vtype, size = add["params"], add["data_size"]
            else:
                vtype, size = "?", "0"
            rows.append([mod, name, kind, "-", "-", vtype, size])
    for r in rows:
        for field in r:
            if "\t" in field or "\n" in field or field == "":
                die("bad field in row %r" % (r,))
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("#" + "\t".join(COLUMNS) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")

    count = {}
    for r in rows:
        count[r[0]] = count.get(r[0], 0) + 1
    summary = ", ".join("%s %d" % (m, count.get(m, 0)) for m in MODULES)
    unknown = sum(1 for r in rows if r[3] == "unknown")
    data = sum(1 for r in rows if r[2] == "data")
    sys.stderr.write("gen-exports: wrote %s (%s; %d data, %d unknown prototypes)\n"
                     % (os.path.relpath(OUT, REPO), summary, data, unknown))


if __name__ == "__main__":
    main()
