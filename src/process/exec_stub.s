# rind's exec stub (x86_64): the container's init executes this, from a sealed memfd, and it
# executes the container's program. Until then /proc/self/exe was rind's binary; from here on it
# is this stub, which cannot be written (CVE-2019-5736). See src/process/exec_stub.rs.
#
# argv: [program path, program argv...]; envp is passed on. On failure it writes
# "rind: execve failed: <path>" to stderr and exits 127.
#
# The bytes in exec_stub.rs come from:
#   as -o stub.o exec_stub.s && objcopy -O binary -j .text stub.o stub.bin
.intel_syntax noprefix
.globl _start
_start:
    mov rbx, rsp
    mov rdi, [rbx+8]
    lea rsi, [rbx+16]
    mov rax, [rbx]
    lea rdx, [rbx+rax*8+16]
    mov eax, 59
    syscall
    mov edi, 2
    lea rsi, [rip+prefix]
    mov edx, newline - prefix
    mov eax, 1
    syscall
    mov rsi, [rbx+8]
    xor edx, edx
1:  cmp byte ptr [rsi+rdx], 0
    je 2f
    inc rdx
    jmp 1b
2:  mov edi, 2
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
prefix: .ascii "rind: execve failed: "
newline: .ascii "\n"
