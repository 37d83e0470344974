#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
int main(){
 const char* arches[]={"x86","x86_64","x32","arm","aarch64","mips","mips64","mips64n32","mipsel","mipsel64","mipsel64n32","ppc","ppc64","ppc64le","s390","s390x","parisc","parisc64","riscv64",0};
 for (int i=0; arches[i]; i++){ uint32_t a=seccomp_arch_resolve_name(arches[i]); if(!a){fprintf(stderr,"no %s\n",arches[i]);continue;}
   for (int n=0;n<10000;n++){ char*s=seccomp_syscall_resolve_num_arch(a,n); if(s){printf("%s %s %d\n",arches[i],s,n); free(s);} }
   for (int n=0x40000000;n<0x40000000+1000;n++){ char*s=seccomp_syscall_resolve_num_arch(a,n); if(s){printf("%s %s %d\n",arches[i],s,n); free(s);} }
 }}
