"""isolate/sandbox.py without starting anything: the bwrap command line a policy makes, the environment
allow-list, bwrap's exit status. (Real sandboxed children: tests/host/extensions/test_sandbox*.py.)"""

from __future__ import annotations

from isolate.sandbox import SandboxPolicy, allowed_env, bwrap_argv, signal_status


def policy(**kw) -> SandboxPolicy:
    base = dict(read_only=("/packs/p", "/envs/p"), read_write=("/packs/p/out", "/state/p"), home="/state/p",
                shm_dir="/dev/shm/nodehost-1.0.d")
    return SandboxPolicy(**(base | kw))  # type: ignore[arg-type]


def binds(argv: list[str]) -> list[tuple[str, str]]:
    return [(argv[i], argv[i + 1]) for i in range(len(argv) - 2) if argv[i] in ("--bind", "--ro-bind-try")
            and argv[i + 1] == argv[i + 2]]


def test_namespaces_and_no_capabilities() -> None:
    argv = bwrap_argv(policy(), ["python", "-I", "-m", "isolate.child"], info_fd=5)
    assert argv[:6] == ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    assert "--share-net" not in argv and argv[-5:] == ["--", "python", "-I", "-m", "isolate.child"]
    assert argv[argv.index("--tmpfs") + 1] == "/tmp" and argv[argv.index("--info-fd") + 1] == "5"
    assert "--share-net" in bwrap_argv(policy(network=True), ["x"])
    assert ("--ro-bind-try", "/etc/resolv.conf") in binds(bwrap_argv(policy(network=True), ["x"]))
    assert ("--ro-bind-try", "/etc/resolv.conf") not in binds(bwrap_argv(policy(), ["x"]))


def test_binds_parents_first_writable_inside_read_only() -> None:
    b = binds(bwrap_argv(policy(), ["x"]))
    order = [path for _, path in b]
    assert order.index("/packs/p") < order.index("/packs/p/out")
    assert ("--bind", "/packs/p/out") in b and ("--ro-bind-try", "/packs/p") in b
    assert ("--bind", "/dev/shm/nodehost-1.0.d") in b and ("--bind", "/dev/shm") not in b
    assert ("--bind", "/dev/shm") in binds(bwrap_argv(policy(shm_dir=None), ["x"]))  # the stated limit
    assert ("--ro-bind-try", "/etc") not in b and ("--ro-bind-try", "/home") not in b


def test_environment_allow_list() -> None:
    env = {"PATH": "/usr/bin", "LC_ALL": "C", "AWS_SECRET_ACCESS_KEY": "k", "HOME": "/root", "OPENAI_API_KEY": "k",
           "NODEHOST_FOLDERS": "{}", "NODEHOST_PARENT_PID": "1", "PYTORCH_CUDA_ALLOC_CONF": "x"}
    assert allowed_env(env) == {"PATH": "/usr/bin", "LC_ALL": "C", "NODEHOST_FOLDERS": "{}",
                                "PYTORCH_CUDA_ALLOC_CONF": "x"}


def test_bwrap_exit_status_of_a_signalled_child_is_the_signal() -> None:
    assert signal_status(137) == -9 and signal_status(139) == -11 and signal_status(7) == 7 and signal_status(0) == 0
