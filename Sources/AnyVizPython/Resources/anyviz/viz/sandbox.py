"""The chart child's sandbox: kernel layers first, Python layers last.

Used only inside the guard worker (`guard_worker.py`): the zygote calls `prepare()` once, and
each forked chart child calls `install()` before it runs any chart code. Nothing here ever
runs in the kernel process: audit hooks, seccomp filters and Landlock rules cannot be undone,
which is exactly why they belong in a throwaway child.

The boundary is the kernel, not Python. Python-level blocks (audit hook, import blocker,
patched process functions) make mistakes fail with a clear message, but Python offers too many
ways to reach a module object for them to be complete. What holds when they are bypassed:

* pid namespace (set up by the zygote): the chart child is pid 1 of its own namespace, so when
  it ends or is killed the kernel kills every process it started, new sessions included;
* network namespace (plus a user namespace, or root's own rights): no interface but a down
  loopback, so no TCP/UDP anywhere; Landlock ABI 6 also scopes abstract Unix sockets;
* seccomp (libseccomp through `pyseccomp`): no execve/execveat, no fork/vfork/clone without
  CLONE_THREAD (threads still work), no AF_UNIX socket (so no connect to a local Unix socket),
  no ptrace, io_uring, namespaces, mounts, bpf or keyrings;
* Landlock: read-only access below the Python installation; everything else unreadable;
* credentials: root drops to `nobody`; no capabilities; no_new_privs;
* rlimits: address space, CPU seconds, file size 0, no core files, RLIMIT_NPROC (counted in
  the child's own user namespace, so it bounds what this chart can start).

`ANYVIZ_SANDBOX_SIMULATE_MISSING=landlock,netns,seccomp,pidns,python` skips the layers named
there, as if the machine lacked them (`python`: the audit hook and import blocks). Tests use it
to exercise the refusal path and to show that the kernel layers hold on their own. A skipped
required layer makes LLM code refused unless ANYVIZ_SANDBOX=off, like a really missing one.
"""
from __future__ import annotations

import errno
import os
import sys
import types

#: Layers without which untrusted (LLM) code is not run unless ANYVIZ_SANDBOX=off.
REQUIRED_LAYERS = ("landlock", "netns", "seccomp")

#: What each missing layer needs, for the refusal message.
LAYER_NEEDS = {
    "landlock": "Landlock (Linux 5.13 or later with Landlock in the active LSMs)",
    "netns": "a network namespace (unprivileged user namespaces enabled, or running as root)",
    "seccomp": "seccomp (Linux seccomp filters and the libseccomp2 library with pyseccomp)",
}

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_CLONE_NEWPID = 0x20000000
_CLONE_THREAD = 0x00010000
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1
_NOBODY = 65534

#: Modules chart code never needs; their entries in sys.modules become stubs in the child and
#: fresh imports of them are refused, by any import path.
BLOCKED_MODULES = frozenset({
    "_posixsubprocess", "subprocess", "ctypes", "_ctypes", "socket", "_socket", "multiprocessing",
    "_multiprocessing", "pty", "signal", "_signal", "gc", "_thread", "resource", "fcntl",
    "termios", "mmap", "asyncio", "_asyncio", "selectors", "select", "ssl", "_ssl", "runpy",
    "code", "codeop", "webbrowser", "sqlite3", "_sqlite3", "faulthandler", "tracemalloc",
    "_tracemalloc", "pdb", "bdb", "_posixshmem", "_xxsubinterpreters", "_winapi", "winreg",
    "msvcrt", "nt",
})
#: Modules every library needs (they stay), but which may not be created afresh from user code
#: (a fresh copy would carry unpatched process functions).
NO_FRESH_MODULES = frozenset({"os", "posix", "importlib", "_imp", "sys", "builtins"})

#: Functions that start processes, send signals or open sockets; replaced in the child on every
#: module that holds them (`os`, `posix`, `subprocess`, ...).
_PROCESS_FUNCS = (
    "system", "popen", "fork", "forkpty", "vfork", "execv", "execve", "execl", "execle",
    "execlp", "execlpe", "execvp", "execvpe", "fexecve", "spawnv", "spawnve", "spawnvp",
    "spawnvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "posix_spawn", "posix_spawnp",
    "kill", "killpg", "tcsetpgrp", "setsid", "setpgid", "setpgrp", "register_at_fork",
    "pidfd_open", "fork_exec", "_fork_exec", "Popen", "run", "call", "check_call",
    "check_output", "getoutput", "getstatusoutput", "socket", "socketpair", "fromfd",
    "create_connection", "create_server", "CDLL", "PyDLL", "cdll", "pydll", "pythonapi",
    "dlopen", "pthread_kill", "setitimer", "alarm", "signal", "putenv", "unsetenv",
)


#: Modules that hold such functions (patched on the module object itself).
_PATCH_HOLDERS = ("os", "posix", "subprocess", "_posixsubprocess", "pty", "socket", "_socket",
                  "ctypes", "_ctypes", "signal", "_signal", "multiprocessing", "shutil",
                  "asyncio", "selectors")


class GuardViolation(PermissionError):
    """Raised by every Python-level block; a PermissionError so libraries treat it like EPERM."""


# ------------------------------------------------------------------ zygote side
_state: dict = {"libc": None, "seccomp_filter": None, "seccomp_error": None, "pidns_fd": None}


def simulated_missing() -> set:
    from anyviz import settings

    return settings.simulated_missing_layers()


def prepare() -> None:
    """In the zygote, once: load libc, build the seccomp filter (each child only loads it),
    become a child subreaper (orphans of chart processes come back here to be killed) and keep
    a handle on our pid namespace so each chart can get a fresh one."""
    import resource  # noqa: F401 - loaded before the fork, so children stub it like the rest

    try:
        import ctypes

        _state["libc"] = ctypes.CDLL(None, use_errno=True)
    except Exception:
        _state["libc"] = None
    libc = _state["libc"]
    if libc is not None:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        _state["seccomp_filter"] = _build_seccomp_filter()
    except Exception as exc:  # noqa: BLE001 - missing library or kernel support: reported
        _state["seccomp_error"] = f"{exc.__class__.__name__}: {exc}"
    try:
        _state["pidns_fd"] = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        _state["pidns_fd"] = None


def _build_seccomp_filter():
    """Default allow; deny what starts programs or processes, reaches local sockets or widens
    the sandbox. Built once in the zygote with libseccomp (pyseccomp is its ctypes binding);
    foreign architectures are killed by libseccomp's default bad-arch action."""
    import socket

    import pyseccomp as sc

    deny = sc.ERRNO(errno.EPERM)
    f = sc.SyscallFilter(sc.ALLOW)
    for name in ("execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv",
                 "process_vm_writev", "unshare", "setns", "mount", "umount2", "pivot_root",
                 "chroot", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
                 "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register",
                 "open_by_handle_at", "kexec_load", "init_module", "finit_module",
                 "fsopen", "fsmount", "move_mount", "open_tree"):
        try:
            f.add_rule(deny, name)
        except Exception:  # noqa: BLE001 - a syscall this architecture does not have
            pass
    # New processes: clone without CLONE_THREAD. clone3 passes its flags in memory seccomp
    # cannot read, so it answers ENOSYS and glibc falls back to clone for threads.
    f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(deny, "socket", sc.Arg(0, sc.EQ, socket.AF_UNIX))
    f.add_rule(deny, "socketpair", sc.Arg(0, sc.EQ, socket.AF_UNIX))
    return f


def fork_in_new_pid_namespace() -> tuple[int, bool]:
    """fork() with the child as pid 1 of a new pid namespace when the kernel allows it: when
    that child ends, the kernel kills every process left in the namespace. Returns
    (pid, whether the namespace was created)."""
    _plan_python_layers()
    libc, fd = _state["libc"], _state["pidns_fd"]
    made = False
    if libc is not None and fd is not None and "pidns" not in simulated_missing():
        # Point "pid namespace for children" back at our own, then at a brand-new one.
        if libc.setns(fd, _CLONE_NEWPID) == 0 and libc.unshare(_CLONE_NEWPID) == 0:
            made = True
    pid = os.fork()
    return pid, made


def _plan_python_layers() -> None:
    """What the child will stub and patch, worked out in the zygote before the fork: walking
    sys.modules in the child would copy hundreds of pages (copy-on-write) for every chart."""
    _state["blocked_present"] = [n for n in sys.modules if _is_blocked_import(n)]
    targets = []
    for name in _PATCH_HOLDERS:
        mod = sys.modules.get(name)
        if mod is not None:
            targets += [(mod, attr) for attr in _PROCESS_FUNCS if attr in mod.__dict__]
    _state["patch_targets"] = targets


def kill_orphans(max_rounds: int = 200) -> int:
    """SIGKILL and reap every child of this (subreaper) process. Between charts the zygote
    has no legitimate children, so whatever is found here is a chart's leftover (a process
    that called setsid, or one whose parent died). Returns how many were killed."""
    import signal

    killed = 0
    for _ in range(max_rounds):
        pids = _children()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    while True:  # reap any zombie the listing raced with
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    return killed


def _children() -> list[int]:
    pids: list[int] = []
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return pids
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                pids.extend(int(p) for p in f.read().split())
        except (OSError, ValueError):
            continue
    return pids


# ------------------------------------------------------------------ child side
def install(resources_dir: str, memory_mb: int, cpu_s: float, violations: list,
            pidns: bool) -> list:
    """Everything the chart child does before it runs chart code. Returns the active layers."""
    missing = simulated_missing()
    layers = []
    if _state["pidns_fd"] is not None:
        os.close(_state["pidns_fd"])
        _state["pidns_fd"] = None
    if pidns:
        layers.append("pidns")
    os.setsid()  # own session and process group: killed whole, never holds the terminal
    layers.append("session")
    roots = allowed_read_roots(resources_dir)
    layers += _namespaces_and_credentials(missing)
    libc = _state["libc"]
    if libc is not None:  # a dead worker takes its chart along (set after the uid change,
        libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)  # which would clear it)
    _rlimits(memory_mb, cpu_s, "userns" in layers or os.geteuid() != 0, layers)
    if libc is not None:
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if "landlock" not in missing:
        try:
            if _landlock(roots):
                layers.append("landlock")
        except Exception:  # noqa: BLE001 - unsupported: reported by its absence
            pass
    _drop_capabilities()
    if "seccomp" not in missing and _state["seccomp_filter"] is not None:
        try:
            _state["seccomp_filter"].load()
            layers.append("seccomp")
        except Exception:  # noqa: BLE001
            pass
    if "python" in missing:  # tests: show that the kernel layers hold on their own
        os.environ.clear()
        return layers
    _python_layers(roots, violations)
    layers += ["import-block", "audit-hook"]
    return layers


def _namespaces_and_credentials(missing: set) -> list:
    """Empty network namespace; root becomes `nobody` (no capabilities, and RLIMIT_NPROC
    applies: the kernel exempts root from it); a user namespace of our own where possible so
    the process count covers only this chart's processes."""
    libc = _state["libc"]
    layers = []
    if libc is None:
        return layers
    if os.geteuid() == 0:
        if "netns" not in missing and libc.unshare(_CLONE_NEWNET) == 0:
            layers.append("netns")
        try:
            os.setgroups([])
            os.setresgid(_NOBODY, _NOBODY, _NOBODY)
            os.setresuid(_NOBODY, _NOBODY, _NOBODY)
            layers.append("nobody")
        except OSError:
            pass
        if "nobody" in layers and libc.unshare(_CLONE_NEWUSER) == 0:
            layers.append("userns")
        return layers
    if "netns" not in missing:
        if libc.unshare(_CLONE_NEWNET) == 0:  # possible inside the zygote's user namespace
            layers.append("netns")
        elif libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
            layers += ["netns", "userns"]
    if "userns" not in layers and libc.unshare(_CLONE_NEWUSER) == 0:
        layers.append("userns")
    return layers


def nproc_limit() -> int:
    """Processes and threads one chart may have (pyarrow starts a thread per core)."""
    return max(32, 2 * (os.cpu_count() or 1) + 8)


def _rlimits(memory_mb: int, cpu_s: float, nproc_counts: bool, layers: list) -> None:
    import resource
    import signal

    # Address space: what the child already maps (libraries, cached frames) plus the allowance,
    # so the cap measures what the chart code allocates.
    try:
        with open("/proc/self/statm") as f:
            vm_bytes = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except Exception:  # noqa: BLE001
        vm_bytes = 0
    limits = [(resource.RLIMIT_AS, vm_bytes + memory_mb * 1024 * 1024),
              (resource.RLIMIT_CPU, max(1, int(cpu_s) + 2)),  # the wall clock fires first
              (resource.RLIMIT_FSIZE, 0),  # any write to a regular file fails with EFBIG
              (resource.RLIMIT_CORE, 0)]
    if nproc_counts:
        limits.append((resource.RLIMIT_NPROC, nproc_limit()))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    for which, value in limits:
        hard = value + 1 if which == resource.RLIMIT_CPU else value
        try:
            resource.setrlimit(which, (value, hard))
        except (ValueError, OSError):
            continue
        if which == resource.RLIMIT_NPROC:
            layers.append("nproc")
    layers.append("rlimits")


def _drop_capabilities() -> None:
    """No capabilities left in any namespace (capset with empty sets; glibc exports capset)."""
    libc = _state["libc"]
    if libc is None:
        return
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    data = (Data * 2)()
    libc.capset(ctypes.byref(Header(0x20080522, 0)), data)


def allowed_read_roots(resources_dir: str) -> tuple:
    import site
    import sysconfig

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.realpath(resources_dir), "/usr/share/zoneinfo", "/usr/lib/python3",
             "/usr/share/python3", "/etc/localtime", "/usr/share/zoneinfo-icu"}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            roots.add(sysconfig.get_paths()[key])
        except Exception:  # noqa: BLE001
            pass
    try:
        roots.update(site.getsitepackages())
    except Exception:  # noqa: BLE001
        pass
    for p in sys.path:
        if p and os.path.isdir(p) and p not in ("", ".", "/"):
            roots.add(p)
    return tuple(sorted({os.path.realpath(r) for r in roots if r and r != "/"}))


def _landlock(read_roots: tuple) -> bool:
    """Landlock (Linux >= 5.13): read-only access beneath the Python roots, nothing else, for
    this process and whatever it runs, so native readers/writers are confined as well."""
    libc = _state["libc"]
    if libc is None or not sys.platform.startswith("linux"):
        return False
    import ctypes

    sys_create, sys_add, sys_restrict = 444, 445, 446
    abi = libc.syscall(sys_create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return False
    handled = (1 << 13) - 1
    if abi >= 2:
        handled |= 1 << 13  # REFER
    if abi >= 3:
        handled |= 1 << 14  # TRUNCATE
    if abi >= 5:
        handled |= 1 << 15  # IOCTL_DEV
    fields = [("handled_access_fs", ctypes.c_uint64)]
    values = [handled]
    if abi >= 4:
        fields.append(("handled_access_net", ctypes.c_uint64))
        values.append(0b11)  # BIND_TCP | CONNECT_TCP
    if abi >= 6:
        fields.append(("scoped", ctypes.c_uint64))
        values.append(0b11)  # abstract unix sockets | signals outside the sandbox

    class Attr(ctypes.Structure):
        _fields_ = fields

    class Beneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = Attr(*values)
    rfd = libc.syscall(sys_create, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
                       ctypes.c_uint32(0))
    if rfd < 0:
        return False
    read_file, read_dir = 1 << 2, 1 << 3
    try:
        for root in read_roots + ("/dev/null", "/dev/urandom"):
            try:
                fd = os.open(root, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rule = Beneath((read_file | read_dir) if os.path.isdir(root) else read_file, fd)
                libc.syscall(sys_add, ctypes.c_int(rfd), ctypes.c_int(1), ctypes.byref(rule),
                             ctypes.c_uint32(0))
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return libc.syscall(sys_restrict, ctypes.c_int(rfd), ctypes.c_uint32(0)) == 0
    finally:
        os.close(rfd)


# ------------------------------------------------------------------ Python layers
_BLOCKED_EVENTS = {
    "subprocess.Popen": "start processes", "os.system": "start processes",
    "os.exec": "start processes", "os.posix_spawn": "start processes",
    "os.spawn": "start processes", "os.fork": "start processes",
    "os.forkpty": "start processes", "pty.spawn": "start processes",
    "os.startfile": "start processes", "webbrowser.open": "start processes",
    "os.kill": "send signals", "os.killpg": "send signals",
    "signal.pthread_kill": "send signals",
    "os.remove": "change files", "os.unlink": "change files", "os.rename": "change files",
    "os.replace": "change files", "os.rmdir": "change files", "os.mkdir": "change files",
    "os.chmod": "change files", "os.chown": "change files", "os.chflags": "change files",
    "os.link": "change files", "os.symlink": "change files", "os.truncate": "change files",
    "os.utime": "change files", "os.mkfifo": "change files", "os.mknod": "change files",
    "os.setxattr": "change files", "os.removexattr": "change files",
    "os.chdir": "change directory", "os.putenv": "change the environment",
    "os.unsetenv": "change the environment", "_thread.start_new_thread": "start threads",
    "mmap.__new__": "map files", "resource.setrlimit": "change resource limits",
    "resource.prlimit": "change resource limits", "sqlite3.connect": "open databases",
    "urllib.Request": "use the network", "http.client.connect": "use the network",
    "ftplib.connect": "use the network", "smtplib.connect": "use the network",
    "imaplib.open": "use the network", "poplib.connect": "use the network",
    "telnetlib.Telnet.open": "use the network", "gc.get_objects": "inspect the heap",
    "gc.get_referrers": "inspect the heap", "gc.get_referents": "inspect the heap",
    "sys._current_frames": "inspect other threads", "code.__new__": "build code objects",
    "cpython._PySys_ClearAuditHooks": "remove the sandbox",
}
_BLOCKED_PREFIXES = {"socket.": "open sockets", "ctypes.": "load native libraries",
                     "shutil.": "change files", "winreg.": "use the registry",
                     "_winapi.": "start processes"}


def _root(name) -> str:
    return str(name or "").split(".")[0]


def _is_blocked_import(name) -> bool:
    return _root(name) in BLOCKED_MODULES


class _BlockedModule(types.ModuleType):
    """What `sys.modules[name]` holds for a blocked module in the child: every attribute
    access fails, so import_module, __import__, import_optional_dependency and direct
    sys.modules lookups all end in the same clear error."""

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__") and attr not in ("__version__",):
            raise AttributeError(attr)
        raise GuardViolation(f"AnyViz guard: chart code may not use the {self.__name__} "
                             f"module")


class _ImportBlocker:
    """sys.meta_path finder: refuses fresh imports of blocked modules (and fresh copies of the
    modules that must stay patched), whatever function asked for them."""

    def __init__(self, deny):
        self._deny = deny

    def find_spec(self, name, path=None, target=None):
        if _is_blocked_import(name) or name in NO_FRESH_MODULES:
            self._deny("import", name)
        return None

    def find_module(self, name, path=None):  # legacy finder protocol
        self.find_spec(name, path)

    def invalidate_caches(self):
        pass


def _blocker_func(deny, what):
    def blocked(*_args, **_kwargs):
        deny(what, "blocked in the chart sandbox")
    return blocked


def _python_layers(roots: tuple, violations: list) -> None:
    """Import blocks, patched process/socket/signal functions, no threads, audit hook."""
    def deny(what: str, detail) -> None:
        msg = f"AnyViz guard: chart code may not {what} ({detail})"
        violations.append(msg)
        raise GuardViolation(msg)

    os.environ.clear()  # the worker's environment is scrubbed already; nothing is left to read
    _patch_process_functions(deny)
    _disable_threads(deny)
    if "blocked_present" not in _state:
        _plan_python_layers()
    for name in _state["blocked_present"]:
        sys.modules[name] = _BlockedModule(name)
    sys.meta_path.insert(0, _ImportBlocker(lambda what, name: deny(what, f"module {name!r}")))
    sys.addaudithook(_audit_hook(roots, deny))


def _audit_hook(roots: tuple, deny):
    """The audit hook: reads only below `roots`, no writes, no blocked events. The functions it
    uses are bound here, before chart code runs, so patching `os.path` later cannot loosen it."""
    realpath = os.path.realpath
    fsdecode = os.fsdecode
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def inside(real: str) -> bool:
        return any(real == r or real.startswith(r + os.sep) for r in roots)

    def hook(event: str, args) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if isinstance(path, int):
                deny("open file descriptors", f"fd {path}")
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & write_flags)
            if writing:
                deny("write files", "a file")
            try:
                real = realpath(fsdecode(path))
            except Exception:  # noqa: BLE001
                deny("read files", "an unreadable path")
            if not inside(real):
                deny("read files", "outside the Python installation")
            return
        if event == "import":
            if args and (_is_blocked_import(args[0])):
                deny("import", f"module {args[0]!r}")
            return
        if event in ("os.listdir", "os.scandir", "glob.glob"):
            # Lazy imports inside pandas/pyarrow list their own package folders: allowed there.
            target = args[0] if args else "."
            try:
                real = realpath(fsdecode(target if target is not None else "."))
            except Exception:  # noqa: BLE001
                deny("list directories", "an unreadable path")
            if not inside(real):
                deny("list directories", "outside the Python installation")
            return
        what = _BLOCKED_EVENTS.get(event)
        if what is None:
            for prefix, w in _BLOCKED_PREFIXES.items():
                if event.startswith(prefix):
                    what = w
                    break
        if what is not None:
            deny(what, event)

    return hook


def _patch_process_functions(deny) -> None:
    """The child is thrown away after one chart, so the real module objects can be changed:
    every holder of a process/socket/signal/native-loading function gets a stub instead.
    `_posixsubprocess.fork_exec` raises no audit event, hence this (and seccomp below it)."""
    import _imp

    real_create_builtin, real_create_dynamic = _imp.create_builtin, _imp.create_dynamic
    if "patch_targets" not in _state:
        _plan_python_layers()
    blocked = _blocker_func(deny, "start processes, send signals, open sockets or load "
                                  "native code")
    for mod, attr in _state["patch_targets"]:
        try:
            setattr(mod, attr, blocked)
        except (AttributeError, TypeError):
            pass

    def create(real):
        def guarded(spec, *args):
            name = getattr(spec, "name", "")
            if _is_blocked_import(name) or name in NO_FRESH_MODULES:
                deny("import", f"module {name!r}")
            return real(spec, *args)
        return guarded

    _imp.create_builtin = create(real_create_builtin)
    _imp.create_dynamic = create(real_create_dynamic)


def _disable_threads(deny) -> None:
    """Python 3.11 has no audit event for thread starts: replace the primitives."""
    import _thread
    import threading

    def no_threads(*_a, **_k):
        deny("start threads", "threading")

    for mod, name in ((_thread, "start_new_thread"), (_thread, "start_new"),
                      (threading, "_start_new_thread")):
        if hasattr(mod, name):
            setattr(mod, name, no_threads)


def missing_layers(required, layers) -> list:
    return [layer for layer in required if layer not in layers]


def refusal_message(missing) -> str:
    needs = "; ".join(LAYER_NEEDS.get(m, m) for m in missing)
    return ("LLM code was not run: the chart sandbox is incomplete on this machine "
            f"(missing: {', '.join(missing)}; needs {needs}). Set ANYVIZ_SANDBOX=off to run "
            "LLM code with the protections that are available.")
