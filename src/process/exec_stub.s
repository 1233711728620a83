# rind's exec stub (x86_64): the container's init executes this, from a sealed memfd, and it
# executes the container's program. Until then /proc/self/exe was rind's binary; from here on it
# is this stub, which cannot be written (CVE-2019-5736). See src/process/exec_stub.rs.
#
# First it makes itself non-dumpable (the kernel made it dumpable again at its own exec), so
# that no process of the container can open its /proc/<pid>/fd while it waits.
#
# argv: [label, program path, program argv...]; envp is passed on. If the label has decimal
# digits, they are the number of the exec.fifo descriptor: the stub blocks reading one byte
# from it (`start` writes it), marks it close-on-exec (or, if fcntl is refused, closes it), and
# goes on. If that read fails, it writes "rind: exec.fifo: read failed" to stderr and exits 1.
# If execve fails, it writes a NUL byte, the errno and the path into exec.fifo (where `start`
# reads it), then "rind: execve failed: <path>" to stderr, and exits 127.
#
# The bytes in exec_stub.rs come from:
#   as -o stub.o exec_stub.s && objcopy -O binary -j .text stub.o stub.bin
.intel_syntax noprefix
.globl _start
_start:
    mov edi, 4
    xor esi, esi
    mov eax, 157
    syscall
    mov rbx, rsp
    sub rsp, 16
    mov rsi, [rbx+8]
    xor r12d, r12d
    xor r13d, r13d
digit:
    movzx eax, byte ptr [rsi]
    inc rsi
    test eax, eax
    jz parsed
    sub eax, '0'
    cmp eax, 9
    ja digit
    imul r12d, r12d, 10
    add r12d, eax
    mov r13d, 1
    jmp digit
parsed:
    test r13d, r13d
    jz exec
wait:
    mov edi, r12d
    mov rsi, rsp
    mov edx, 1
    xor eax, eax
    syscall
    cmp rax, -4
    je wait
    cmp rax, 1
    jne unreleased
    mov edi, r12d
    mov esi, 2
    mov edx, 1
    mov eax, 72
    syscall
    test rax, rax
    jz exec
    mov edi, r12d
    mov eax, 3
    syscall
    xor r13d, r13d
exec:
    mov rdi, [rbx+16]
    lea rsi, [rbx+24]
    mov rax, [rbx]
    lea rdx, [rbx+rax*8+16]
    mov eax, 59
    syscall
    mov r14, rax
    mov rsi, [rbx+16]
    xor edx, edx
1:  cmp byte ptr [rsi+rdx], 0
    je 2f
    inc rdx
    jmp 1b
2:  mov r15, rdx
    test r13d, r13d
    jz tell
    mov byte ptr [rsp], 0
    mov rax, r14
    neg eax
    mov byte ptr [rsp+1], al
    mov edi, r12d
    mov rsi, rsp
    mov edx, 2
    mov eax, 1
    syscall
    mov edi, r12d
    mov rsi, [rbx+16]
    mov rdx, r15
    mov eax, 1
    syscall
tell:
    mov edi, 2
    lea rsi, [rip+prefix]
    mov edx, fifo_msg - prefix
    mov eax, 1
    syscall
    mov edi, 2
    mov rsi, [rbx+16]
    mov rdx, r15
    mov eax, 1
    syscall
    mov edi, 2
    lea rsi, [rip+newline]
    mov edx, 1
    mov eax, 1
    syscall
    mov edi, 127
    mov eax, 231
    syscall
unreleased:
    mov edi, 2
    lea rsi, [rip+fifo_msg]
    mov edx, end - fifo_msg
    mov eax, 1
    syscall
    mov edi, 1
    mov eax, 231
    syscall
prefix: .ascii "rind: execve failed: "
fifo_msg: .ascii "rind: exec.fifo: read failed"
newline: .ascii "\n"
end:
