using GpuAutoencoder.KernelReport;

namespace GpuAutoencoder.Tests;

/// <summary>Reading ptxas -v reports and cuobjdump -sass listings, on hand-written samples of both.</summary>
public class KernelListingTests
{
    // An outer loop (0x20..0xa0) around an inner one (0x30..0x90) that does the math, then a loop
    // without math that keeps a value in local memory, and the closing self-branch every kernel has.
    const string Listing = """

        	code for sm_90
        		Function : Kernel_Kernel
        	.headerflags    @"EF_CUDA_SM90 EF_CUDA_PTX_SM(EF_CUDA_SM90)"
                /*0000*/                   LDC R1, c[0x0][0x28] ;                  /* 0x00000a00ff017b82 */
                                                                                   /* 0x000e220000000800 */
                /*0010*/                   LDS.128 R4, [R2] ;                      /* 0x0000000002047984 */
                /*0020*/                   FFMA R3, R4, R5, R3 ;                   /* 0x0000000504037223 */
                /*0030*/                   LDG.E R6, [R8.64] ;                     /* 0x0000000408067981 */
                /*0040*/                   LDS.128 R8, [R2] ;                      /* 0x0000000002087984 */
                /*0050*/                   LDS R9, [R2+0x4] ;                      /* 0x0000040002097984 */
                /*0060*/                   FFMA R3, R8, R9, R3 ;                   /* 0x0000000908037223 */
                /*0070*/               @P3 BRA 0x30 ;                              /* 0xfffffff800708947 */
                /*0080*/                   FFMA R3, R8, R6, R3 ;                   /* 0x0000000608037223 */
                /*0090*/                   BAR.SYNC.DEFER_BLOCKING 0x0 ;           /* 0x0000000000007b1d */
                /*00a0*/               @!P0 BRA 0x30 ;                             /* 0xfffffff800708947 */
                /*00b0*/               @P1 BRA 0x20 ;                              /* 0xfffffff800708947 */
                /*00c0*/                   IADD3 R1, R1, 0x1, RZ ;                 /* 0x0000000101017810 */
                /*00d0*/                   STL [R1], R3 ;                          /* 0x0000000301007387 */
                /*00e0*/               @P2 BRA 0xc0 ;                              /* 0xfffffff800708947 */
                /*00f0*/                   EXIT ;                                  /* 0x000000000000794d */
                /*0100*/                   BRA 0x100;                              /* 0xfffffff000007947 */
        		..........

        """;

    [Test]
    public void InnerLoopIsTheInnermostLoopDoingMathToItsLastBackwardBranch()
    {
        var sass = SassListing.Parse(Listing);
        var loop = sass.InnerLoop();
        Assert.That(loop, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That((loop!.Start, loop.End), Is.EqualTo((0x30, 0xa0)));
            Assert.That(loop.Instructions, Has.Count.EqualTo(8));
            Assert.That(loop.Ffma, Is.EqualTo(2));
            Assert.That(loop.SharedLoads, Is.EquivalentTo(new Dictionary<string, int> { ["LDS"] = 1, ["LDS.128"] = 1 }));
            Assert.That(loop.GlobalLoads, Is.EquivalentTo(new Dictionary<string, int> { ["LDG.E"] = 1 }));
            Assert.That(loop.Barriers, Is.EqualTo(1));
            Assert.That(sass.Instructions, Has.Count.EqualTo(17));
            Assert.That(sass.LocalMemoryOps, Is.EqualTo(1));
        });
    }

    [Test]
    public void NoLoopWithoutMath()
    {
        var sass = SassListing.Parse("""
                    /*0000*/                   IADD3 R1, R1, 0x1, RZ ;
                    /*0010*/               @P2 BRA 0x0 ;
                    /*0020*/                   EXIT ;
            """);
        Assert.That(sass.InnerLoop(), Is.Null);
    }

    [Test]
    public void ReadsPtxasResourceLines()
    {
        var withShared = PtxasResources.Parse("""
            ptxas info    : 0 bytes gmem
            ptxas info    : Compiling entry function 'Kernel_Kernel' for 'sm_90'
            ptxas info    : Function properties for Kernel_Kernel
                64 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads
            ptxas info    : Used 39 registers, 1536 bytes smem, 400 bytes cmem[0]
            """);
        Assert.That(withShared, Is.EqualTo(new PtxasResources(39, 1536, 64, 8, 12)));
        Assert.That(withShared.SpillBytes, Is.EqualTo(20));
        var withoutShared = PtxasResources.Parse("""
            ptxas info    : Function properties for Kernel_Adam
                0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 21 registers, 400 bytes cmem[0]
            """);
        Assert.That(withoutShared, Is.EqualTo(new PtxasResources(21, 0, 0, 0, 0)));
    }
}
